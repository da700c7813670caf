"""Turn the OpenAPI document into what the docs page shows: operations by tag, schema tables."""

from __future__ import annotations

import re

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
        parts.append(f"{low:g} to {high:g}" if high < 1e9 else f"≥ {low:g}")
    elif low is not None:
        parts.append(f"≥ {low:g}")
    if "minLength" in schema or "maxLength" in schema:
        parts.append(f"{schema.get('minLength', 0)} to {schema.get('maxLength', '…')} characters")
    if "enum" in schema:
        parts.append("one of " + ", ".join(map(str, schema["enum"])))
    if "default" in schema:
        parts.append(f"default {schema['default']}")
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


def _operation(document: dict, path: str, method: str, op: dict, shared_params: list) -> dict:
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
        inline_schema = "$ref" not in schema
        bodies.append(
            {
                "media_type": media_type,
                "type": describe(schema),
                "fields": fields(schema) if inline_schema else [],
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
                "description": response.get("description", ""),
                "media_type": media_type,
                "type": describe(body["schema"]) if body.get("schema") else None,
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
    }


def view(document: dict) -> dict:
    """Everything the docs template needs, in display order."""
    tags = {tag["name"]: {**tag, "operations": []} for tag in document.get("tags", [])}
    for path, item in document["paths"].items():
        shared = item.get("parameters", [])
        for method in METHODS:
            if method in item:
                op = item[method]
                tag = (op.get("tags") or ["Other"])[0]
                tags.setdefault(tag, {"name": tag, "description": "", "operations": []})
                tags[tag]["operations"].append(_operation(document, path, method, op, shared))
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
