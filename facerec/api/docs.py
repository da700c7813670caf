"""Turn the OpenAPI document into what the docs page shows: operations by tag, schema tables."""

from __future__ import annotations

import json
import re
import shlex

from markupsafe import Markup, escape

METHODS = ("get", "post", "put", "patch", "delete")


def inline(text: str, paragraphs: bool = True) -> Markup:
    """The little Markdown the document uses: `code`, **bold** and paragraphs."""
    html = str(escape(text or ""))
    html = re.sub(r"`([^`]+)`", r"<code>\1</code>", html)
    html = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", html)
    if not paragraphs:
        return Markup(html)
    blocks = [p.strip() for p in html.split("\n\n") if p.strip()]
    return Markup("".join(f"<p>{p}</p>" for p in blocks))


def number(value) -> str:
    """1000000 as 1,000,000 and 0.60 as 0.6 (never 1e+06)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, float) and not value.is_integer():
        return f"{value:g}"
    return f"{int(value):,}"


def ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def describe(schema: dict) -> dict:
    """A short type label for a schema, and the component it links to (if any)."""
    if "$ref" in schema:
        name = ref_name(schema["$ref"])
        return {"label": name, "ref": name}
    kind = schema.get("type", "any")
    if kind == "array":
        item = describe(schema.get("items", {}))
        label = f"array of {item['label']}"
        if "minItems" in schema and schema.get("minItems") == schema.get("maxItems"):
            label = f"array of {schema['minItems']} {item['label']}"
        elif "maxItems" in schema:
            label += f" (at most {schema['maxItems']})"
        return {"label": label, "ref": item["ref"]}
    if kind == "string" and schema.get("format") == "binary":
        return {"label": "file", "ref": None}
    parts = [kind + (f" ({schema['format']})" if schema.get("format") else "")]
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and high is not None:
        parts.append(f"{number(low)} to {number(high)}" if high < 1e12 else f"≥ {number(low)}")
    elif low is not None:
        parts.append(f"≥ {number(low)}")
    if "minLength" in schema or "maxLength" in schema:
        low, high = number(schema.get("minLength", 0)), number(schema.get("maxLength", "…"))
        parts.append(f"{low} to {high} characters")
    if "enum" in schema:
        parts.append("one of " + ", ".join(map(str, schema["enum"])))
    if "default" in schema and schema["default"] != "":
        parts.append(f"default {number(schema['default'])}")
    label = ", ".join(parts)
    if schema.get("nullable"):
        label += " or null"
    return {"label": label, "ref": None}


def fields(schema: dict) -> list[dict]:
    """One row per property of an object schema."""
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "type": describe(prop),
            "required": name in required,
            "description": prop.get("description", ""),
        }
        for name, prop in schema.get("properties", {}).items()
    ]


def _resolve(document: dict, item: dict) -> dict:
    if "$ref" in item:
        section, name = item["$ref"].split("/")[-2:]
        return document["components"][section][name]
    return item


def _resolve_schema(document: dict, schema: dict) -> dict:
    if "$ref" in schema:
        return document["components"]["schemas"][ref_name(schema["$ref"])]
    return schema


def curl(document: dict, base: str, path: str, method: str, op: dict) -> str:
    """A curl command line calling the operation with the document's example values."""
    params = op.get("parameters", [])
    for p in params:
        if p["in"] == "path":
            path = path.replace("{" + p["name"] + "}", str(p.get("example", 1)))
    query = [
        f"{p['name']}={p.get('example', p.get('schema', {}).get('example'))}"
        for p in params
        if p["in"] == "query"
        and (p.get("required") or "example" in p or "example" in p.get("schema", {}))
    ]
    url = base + path + ("?" + "&".join(query) if query else "")
    words = ["curl"]
    content = op.get("requestBody", {}).get("content", {})
    media_type = next(iter(content), None)
    if method != "get" and (media_type is None or method != "post"):
        words += ["-X", method.upper()]
    words += ["-H", '"Authorization: Bearer $TOKEN"']
    if media_type == "application/json":
        body = content[media_type].get("example", {})
        words += ["-H", shlex.quote("Content-Type: application/json")]
        words += ["-d", shlex.quote(json.dumps(body, ensure_ascii=False))]
    elif media_type is not None:
        schema = _resolve_schema(document, content[media_type].get("schema", {}))
        for name, prop in schema.get("properties", {}).items():
            item = prop.get("items", prop)
            if item.get("format") == "binary":
                words += ["-F", f"{name}=@photo.jpg"]
            elif name in schema.get("required", []) or "example" in prop:
                words += ["-F", shlex.quote(f"{name}={prop.get('example', '')}")]
    words.append(shlex.quote(url))
    return _wrap(words)


def _wrap(words: list[str], width: int = 88) -> str:
    """The command on lines of about ``width``, each option with its value (continued lines)."""
    lines, line = [], words[0]
    index = 1
    while index < len(words):
        chunk = words[index]
        if chunk.startswith("-") and index + 1 < len(words):  # an option and its value
            chunk, index = f"{chunk} {words[index + 1]}", index + 1
        index += 1
        if len(line) + 1 + len(chunk) > width:
            lines.append(line + " \\")
            line = "     " + chunk
        else:
            line += " " + chunk
    lines.append(line)
    return "\n".join(lines)


def response_example(document: dict, op: dict) -> dict | None:
    """The first success answer: its status and an example body (JSON, pretty)."""
    for code, response in op.get("responses", {}).items():
        if not code.startswith("2"):
            continue
        response = _resolve(document, response)
        content = response.get("content", {})
        body = content.get("application/json")
        if body is None:
            text = f"({next(iter(content))})" if content else "(no body)"
        else:
            text = json.dumps(body.get("example"), indent=2, ensure_ascii=False)
        return {"code": code, "description": response.get("description", ""), "body": text}
    return None


def _operation(
    document: dict, path: str, method: str, op: dict, shared_params: list, base: str = ""
) -> dict:
    params = [
        {
            "name": p["name"],
            "in": p["in"],
            "required": p.get("required", False),
            "type": describe(p.get("schema", {})),
            "description": p.get("description", ""),
        }
        for p in (*shared_params, *op.get("parameters", []))
    ]
    bodies = []
    for media_type, content in op.get("requestBody", {}).get("content", {}).items():
        schema = content.get("schema", {})
        bodies.append(
            {
                "media_type": media_type,
                "type": describe(schema),
                "fields": fields(_resolve_schema(document, schema)),
            }
        )
    responses = []
    for code, response in op.get("responses", {}).items():
        response = _resolve(document, response)
        content = response.get("content", {})
        media_type, body = next(iter(content.items()), (None, {}))
        responses.append(
            {
                "code": code,
                "description": inline(response.get("description", ""), False),
                "media_type": media_type,
                "type": describe(body["schema"]) if body.get("schema") else None,
                "headers": list(response.get("headers", {})),
                "error": (body.get("example") or {}).get("error") if code >= "400" else None,
            }
        )
    return {
        "id": op.get("operationId", f"{method}-{path}"),
        "method": method.upper(),
        "path": path,
        "summary": op.get("summary", ""),
        "description": inline(op.get("description", "")),
        "params": params,
        "bodies": bodies,
        "responses": responses,
        "curl": curl(document, base, path, method, op),
        "example": response_example(document, op),
    }


def view(document: dict, base: str = "") -> dict:
    """Everything the docs template needs, in display order."""
    tags = {tag["name"]: {**tag, "operations": []} for tag in document.get("tags", [])}
    for path, item in document["paths"].items():
        shared = item.get("parameters", [])
        for method in METHODS:
            if method in item:
                op = item[method]
                tag = (op.get("tags") or ["Other"])[0]
                tags.setdefault(tag, {"name": tag, "description": "", "operations": []})
                tags[tag]["operations"].append(_operation(document, path, method, op, shared, base))
    schemes = document["components"].get("securitySchemes", {})
    return {
        "title": document["info"]["title"],
        "version": document["info"]["version"],
        "openapi": document["openapi"],
        "description": inline(document["info"].get("description", "")),
        "tags": [tag for tag in tags.values() if tag["operations"]],
        "security": [
            {**s, "id": name, "description": inline(s.get("description", ""), False)}
            for name, s in schemes.items()
        ],
        "schemas": [
            {
                "name": name,
                "description": schema.get("description", ""),
                "fields": fields(schema),
            }
            for name, schema in document["components"]["schemas"].items()
        ],
    }
