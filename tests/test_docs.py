"""The documentation site: it builds with ``mkdocs build --strict`` (no broken link, no page
left out of the navigation), offline, and nothing in it points outside the project."""

import os
import re
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT

DOCS = ROOT / "docs"


def markdown_files():
    return [*sorted(DOCS.rglob("*.md")), ROOT / "README.md"]


def test_does_the_documentation_site_build_strictly(tmp_path):
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    page = (site / "guide" / "cameras" / "index.html").read_text()
    assert "FACEREC_CAMERA" in page
    # Offline and private: the theme must not load fonts (or anything else) from elsewhere.
    index = (site / "index.html").read_text()
    assert "fonts.googleapis.com" not in index and "fonts.gstatic.com" not in index


def test_is_the_readme_short_and_pointing_at_the_docs():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    # It starts with the two commands: the first section after the pitch, its first block.
    assert re.findall(r"^## (.+)$", readme, re.M)[0] == "Quick start"
    first_block = re.search(r"```sh\n(.*?)```", readme, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()]
    assert commands == ["make run", "make test"]
    for link in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (ROOT / link).is_file(), f"the README links to {link}, which does not exist"


def test_do_the_docs_and_code_refer_to_no_file_outside_the_project():
    # Test data in ../shared/faces is the one allowed reference (the suite's photos and clip);
    # links between the pages of docs/ are checked by the strict build.
    outside = re.compile(
        r"\b(DESIGN|STYLE|GUIDE|HELPERS|TEAM)\.md|\.\./shared/(?!faces\b)|\.\./\.\./|/work/"
        r"|shared README"
    )
    offenders = []
    files = markdown_files() + [
        path
        for folder in ("facerec", "bench", "migrations", "tests")
        for path in (ROOT / folder).rglob("*")
        if path.suffix in {".py", ".html", ".js", ".css"}
    ]
    files += [ROOT / name for name in ("Makefile", "setup.cfg", "requirements.txt", "mkdocs.yml")]
    for path in files:
        if path == Path(__file__):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if outside.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_does_the_architecture_page_name_every_module_and_no_other():
    """Its layout names each module of the package, and no file that is not there."""
    layout = (DOCS / "architecture.md").read_text().split("## Layout", 1)[1]
    named = set(re.findall(r"\b\w+\.py\b", layout))
    package = ROOT / "facerec"
    modules = [path for path in package.rglob("*.py") if path.name != "__init__.py"]
    unnamed = sorted(str(path.relative_to(ROOT)) for path in modules if path.name not in named)
    assert not unnamed, f"docs/architecture.md's layout does not name {unnamed}"
    files = {
        path.name
        for folder in ("facerec", "tests", "bench")
        for path in (ROOT / folder).rglob("*.py")
    }
    files.add("wsgi.py")
    assert not named - files, f"docs/architecture.md names files that are gone: {named - files}"
    folders = [path.name for path in package.iterdir() if (path / "__init__.py").is_file()]
    assert not [f for f in folders if f"{f}/" not in layout], "a package is missing from it"
