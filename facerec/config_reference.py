"""The configuration reference (docs/configuration.md), written from the declarations in
``config.py``: ``make docs-config`` (``python -m facerec.config_reference``) rewrites the
part of the page between its two markers; tests/test_config.py fails when it is stale."""

from __future__ import annotations

import sys
from pathlib import Path

from .config import SECTIONS, Spec, declared

PAGE = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
BEGIN = "<!-- settings: generated from facerec/config.py by `make docs-config`; edit them there -->"
END = "<!-- end of the generated settings -->"


def anchor(spec: Spec) -> str:
    return spec.env.lower()


def _default(spec: Spec) -> str:
    # A default written in words ("the number of cores") stays words; a value is code.
    if spec.shown is not None:
        return spec.shown
    text = spec.default_text()
    return f"`{text}`" if text else "empty"


def generated() -> str:
    """The generated part of the page: a table of every setting, then one entry each."""
    specs = declared()
    lines = [BEGIN, "", "| setting | default |", "| --- | --- |"]
    for spec in specs:
        lines.append(f"| [`{spec.env}`](#{anchor(spec)}) | {_default(spec)} |")
    for section in SECTIONS:
        lines += ["", f"## {section}"]
        for spec in (spec for spec in specs if spec.section == section):
            lines += [
                "",
                f"### `{spec.env}` {{#{anchor(spec)}}}",
                "",
                spec.doc,
                "",
                f"Default {_default(spec)} · {spec.describe_type()} · applies: {spec.applies}.",
            ]
    lines += ["", END]
    return "\n".join(lines) + "\n"


def rewritten(page: str) -> str:
    """``page`` with its generated part replaced by the current one."""
    if BEGIN not in page or END not in page:
        raise SystemExit(f"{PAGE}: the markers of the generated part are missing")
    head, rest = page.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return head + generated().rstrip("\n") + tail


def main(argv=None) -> int:
    page = PAGE.read_text()
    new = rewritten(page)
    if new != page:
        PAGE.write_text(new)
        print(f"{PAGE.name}: rewritten from the declarations in facerec/config.py")
    else:
        print(f"{PAGE.name}: up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
