"""Every command the documentation shows, run exactly as written, from a fresh clone's layout.

The project's files are copied to ``<tmp>/facerec`` with the test data at ``<tmp>/shared/faces``
(where a clone sits beside it), and ``.venv`` there is a new virtualenv into which the project
is installed the way ``make install`` does it (editable, with its ``facerec`` console script);
the pinned packages come from this test run's virtualenv through a ``.pth`` file, so nothing is
downloaded. Commands then run through ``bash`` from that folder with a PATH that holds no
virtualenv, as a user's fresh shell would: ``.venv/bin/facerec accounts list`` works there,
``flask accounts list`` would not.

``.venv/bin/facerec ...`` lines run page by page, in the order the page shows them, each
page on a fresh copy of the migrated database after what it assumes (``BEFORE``); pages run
side by side (``LANES`` at a time, each on a database of its own named by ``DATABASE_URL``),
and each page is a test that waits for its own. ``make run ...`` lines start the server
(``LANES`` at a time, each on a port and a database of its own) and wait for its sign-in
page. Every other shell line a
page shows must be listed in ``NOT_RUN`` with the reason, so a new command cannot slip by.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from .conftest import DATA, ROOT, TEST_PASSWORD
from .servers import free_port

pytestmark = pytest.mark.sqlite_only

# Shell lines the suite does not run as written, and why. Matched at the start of a line.
NOT_RUN = {
    "make test": "is the test suite itself",
    "curl ": "needs a running server, a token and the reader's photos: the API tests send "
    "the same requests (tests/test_api.py, test_search.py, test_unknowns.py, ...)",
    "TOKEN=": "a placeholder for the reader's token",
    "sudo -u postgres ": "sets up the reader's PostgreSQL server (the suite starts its own)",
    "export DATABASE_URL=": "names the reader's PostgreSQL server",
    "PGURL=": "names the reader's PostgreSQL server",
    "pg_dump ": "backs up the reader's PostgreSQL server (tests/test_backup.py runs the recipe)",
    "pg_restore ": "restores the reader's PostgreSQL server",
    ".venv/bin/python -m pytest": "runs the test suite itself",
    "FACEREC_SERVER=": "two servers on the reader's PostgreSQL database "
    "(tests/test_shared_database.py runs two on one)",
}

# What a page's commands assume is already there (run first, on the page's fresh database).
BEFORE = {
    "guide/roles.md": [
        "printf '%s\\n' \"$PASSWORD\" > password.txt",
        'echo "$PASSWORD" | .venv/bin/facerec accounts create alice --password-stdin',
        ".venv/bin/facerec cameras add door ../shared/faces/short_hamilton_clip.mp4",
        ".venv/bin/facerec cameras add lab ../shared/faces/short_hamilton_clip.mp4",
    ],
}

# What an interactive command reads from its terminal, by the command's words.
ANSWERS = [
    # (a line that pipes its own password in keeps it: the pipe is that command's input)
    (re.compile(r"accounts (create|set-password) |make account "), f"{TEST_PASSWORD}\n" * 2),
    (re.compile(r"users delete (?!.*--yes)"), "y\n"),
    (re.compile(r"facerec restore (?!.*--yes)"), "y\n"),
]


def pages() -> list[Path]:
    """The README, then every page in the order of the site's navigation."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text().replace("!!python", "#"))
    found = []

    def walk(items):
        for item in items:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            if isinstance(value, list):
                walk(value)
            else:
                found.append(ROOT / "docs" / value)

    walk(config["nav"])
    return [ROOT / "README.md", *found]


def shell_lines(path: Path) -> list[str]:
    """The command lines of a page's ``sh`` blocks, continuations joined, comments dropped."""
    lines = []
    for block in re.findall(r"```(?:sh|bash|shell)\n(.*?)```", path.read_text(), re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def is_cli(line: str) -> bool:
    """A facerec command: ``.venv/bin/facerec ...`` or one of its make targets."""
    return (
        re.match(r"^(echo .*\| )?\.venv/bin/facerec\b", line) is not None
        or re.match(r"^make (facerec|account|token|import)\b", line) is not None
    )


def is_make_run(line: str) -> bool:
    return re.match(r"^([A-Z_]+=\S+ )*make run\b", line) is not None


def test_is_every_command_in_the_docs_run_or_said_why_not():
    unaccounted = []
    for path in pages():
        for line in shell_lines(path):
            if is_cli(line) or is_make_run(line):
                continue
            if not any(line.startswith(prefix) for prefix in NOT_RUN):
                unaccounted.append(f"{path.relative_to(ROOT)}: {line}")
    assert not unaccounted, (
        "commands the docs show that tests/test_docs_commands.py neither runs nor lists in "
        "NOT_RUN with the reason:\n" + "\n".join(unaccounted)
    )


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """The project as a fresh clone lays it out, with its own .venv and ../shared/faces."""
    base = tmp_path_factory.mktemp("fresh")
    project = base / "facerec"
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (project / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, project / name)
    (base / "shared").mkdir()
    (base / "shared" / "faces").symlink_to(DATA)

    venv = project / ".venv"
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site_packages = next((venv / "lib").glob("python3*/site-packages"))
    here = next(p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir())
    (site_packages / "test-run-packages.pth").write_text(here + "\n")
    # The Makefile's own step, run with this run's pip against the new virtualenv.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--editable",
            str(project),
        ],
        check=True,
        capture_output=True,
    )
    (venv / ".installed-stamp").touch()
    return project


def user_environment(home: Path) -> dict[str, str]:
    """A fresh shell's environment: no virtualenv on PATH, no facerec settings."""
    keep = {"LANG", "LC_ALL", "TMPDIR", "FACEREC_TEST_DATA"}
    env = {key: value for key, value in os.environ.items() if key in keep}
    env.update(PATH="/usr/local/bin:/usr/bin:/bin", HOME=str(home), PASSWORD=TEST_PASSWORD)
    return env


def run_line(line: str, cwd: Path, env: dict, timeout: float = 300):
    stdin = next((text for pattern, text in ANSWERS if pattern.search(line)), "")
    return subprocess.run(
        ["bash", "-c", line],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def commands(path: Path) -> list[str]:
    """The facerec commands a page shows, in its order."""
    return [line for line in shell_lines(path) if is_cli(line)]


# The pages that show facerec commands: each is a test of its own (one page's commands take
# seconds; all of them at once, on a busy machine, took minutes).
PAGES_WITH_COMMANDS = [path for path in pages()[1:] if commands(path)]


def test_are_the_readmes_commands_in_the_docs_where_they_run():
    readme, *docs = pages()
    shown_in_docs = {line for path in docs for line in shell_lines(path)}
    for line in filter(is_cli, shell_lines(readme)):
        assert line in shown_in_docs, f"the README's `{line}` is not in the docs, where it runs"
    run = " ".join(line for path in PAGES_WITH_COMMANDS for line in commands(path))
    for group in ("accounts create", "tokens create", "users import", "cameras add"):
        assert f"facerec {group}" in run, f"no `{group}` example is run"


@pytest.fixture(scope="module")
def migrated(clone, tmp_path_factory) -> bytes:
    """The database of a fresh clone after ``make db`` (make run does it too), as bytes: each
    page starts from a copy."""
    database = clone / "instance" / "facerec.db"
    database.unlink(missing_ok=True)
    done = run_line("make db", clone, user_environment(tmp_path_factory.mktemp("home")))
    assert done.returncode == 0, done.stdout + done.stderr
    return database.read_bytes()


def test_does_a_command_before_make_db_say_what_to_do(clone, migrated, tmp_path):
    database = clone / "instance" / "facerec.db"
    database.unlink()
    early = run_line(".venv/bin/facerec accounts list", clone, user_environment(tmp_path))
    assert early.returncode == 1
    assert "The database has no tables yet" in early.stderr and "make db" in early.stderr
    assert "Traceback" not in early.stderr


def test_does_facerec_list_every_command_flask_lists_for_the_app(clone, migrated, tmp_path):
    """.venv/bin/facerec makes a lighter app for its own commands (no pages, no Alembic until
    `db` runs) and names its plugin commands instead of scanning for them: its list is still
    the whole app's, with the same summaries."""
    env = user_environment(tmp_path) | database_env(migrated, tmp_path, "help")
    ours = run_line(".venv/bin/facerec --help", clone, env)
    flasks = run_line(".venv/bin/python -m flask --app facerec --help", clone, env)
    assert ours.returncode == 0 and flasks.returncode == 0, ours.stderr + flasks.stderr
    listed = ours.stdout.split("Commands:")[1]
    assert listed == flasks.stdout.split("Commands:")[1]
    for group in ("accounts", "db", "limiter", "notify", "routes", "run", "users"):
        assert f"\n  {group} " in listed, group


def database_env(migrated: bytes, folder: Path, name: str) -> dict[str, str]:
    """A database of its own for one page (or one server): a copy of the migrated one, named
    to the commands through DATABASE_URL, as the configuration reference says."""
    path = folder / (re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") + ".db")
    path.write_bytes(migrated)
    return {"DATABASE_URL": f"sqlite:///{path}"}


def run_page(page: str, lines: list[str], cwd: Path, env: dict) -> list[str]:
    """A page's commands in its order, as a reader follows it; what failed."""
    failures = []
    for line in lines:
        done = run_line(line, cwd, env)
        if done.returncode != 0:
            failures.append(
                f"docs/{page}: `{line}` exited {done.returncode}:\n{done.stdout}{done.stderr}"
            )
    return failures


# Pages (and servers) run side by side, this many at a time: each command is a process of its
# own, mostly Python starting, and a few at once are done far sooner than one after another.
LANES = 3


def page_name(path: Path) -> str:
    return str(path.relative_to(ROOT / "docs"))


# The commands the app itself shows (its pages, the CLI's messages, the API description) have
# placeholders; the test puts these in their place and runs them as the pages run theirs.
FILLED = {
    "USERNAME": "alice",
    "NAME": "desk",
    "SOURCE": "../shared/faces/short_hamilton_clip.mp4",
    "DIR": "../shared/faces/known",
    "URL": "https://door.example.net/hooks/facerec",
    "S": "whsec_" + base64.b64encode(b"a secret of thirty-two bytes!!!!").decode(),
    "COMMAND": "--help",
}
# Where a placeholder means something else: a notification target is an Apprise URL,
# and two accounts cannot share a name.
FILLED_FOR = {
    "notify add": {"URL": "ntfys://ntfy.sh/front-door-4f9c2a"},
    "--role viewer": {"NAME": "viewer"},
}
APP = "facerec/ (pages, messages, API description)"


def app_commands() -> list[str]:
    """Every ``.venv/bin/facerec ...`` the app shows, placeholders filled; the accounts first
    (the others name them)."""
    shown = set()
    for path in (ROOT / "facerec").rglob("*"):
        if path.suffix in {".py", ".html"}:
            shown.update(re.findall(r"\.venv/bin/facerec [^`<\"',)]+", path.read_text()))
    filled = set()
    for line in shown:
        if "{" in line:
            continue  # made when it is printed (``notify test {target.id}``)
        words = FILLED | next((f for key, f in FILLED_FOR.items() if key in line), {})
        filled.add(" ".join(words.get(word, word) for word in line.split()))
    return sorted(filled, key=lambda line: (" accounts create " not in line, line))


@pytest.fixture(scope="module")
def page_runs(clone, migrated, tmp_path_factory):
    """Every page's commands, started at once (``LANES`` pages at a time), each page on a
    fresh database of its own after what it assumes; each page's test waits for its own.
    The pages with the most imports first, so that the lanes end together."""
    home = tmp_path_factory.mktemp("pages")
    env = user_environment(home)
    order = sorted(
        PAGES_WITH_COMMANDS,
        key=lambda path: (-sum("import" in line for line in commands(path)), page_name(path)),
    )
    lanes = ThreadPoolExecutor(LANES)
    runs = {}
    for path in order:
        page = page_name(path)
        lines = [*BEFORE.get(page, []), *commands(path)]
        runs[page] = lanes.submit(
            run_page, page, lines, clone, env | database_env(migrated, home, page)
        )
    runs[APP] = lanes.submit(
        run_page, APP, app_commands(), clone, env | database_env(migrated, home, "app")
    )
    yield runs
    lanes.shutdown(cancel_futures=True)


@pytest.mark.parametrize("path", PAGES_WITH_COMMANDS, ids=page_name)
def test_do_the_pages_commands_work_as_written_from_a_fresh_clone(page_runs, path):
    failures = page_runs[page_name(path)].result()
    assert not failures, "\n\n".join(failures)


def test_do_the_commands_the_app_shows_work_as_written_from_a_fresh_clone(page_runs):
    commands_shown = app_commands()
    for group in ("accounts create", "tokens create", "users import", "cameras add"):
        assert any(f"facerec {group}" in line for line in commands_shown), group
    failures = page_runs[APP].result()
    assert not failures, "\n\n".join(failures)
    # Never a bare `flask ...`: from the project folder it finds neither the virtualenv's
    # packages nor facerec's commands.
    bare = re.compile(
        r"\bflask (accounts|users|tokens|cameras|webhooks|db|sightings|notify|audit|settings)\b"
    )
    bare_facerec = re.compile(r"(`|<code>)facerec (accounts|users|tokens|cameras|webhooks|notify) ")
    for path in (ROOT / "facerec").rglob("*"):
        if path.suffix in {".py", ".html"}:
            # What people read: a comment in the code is not shown to anyone.
            text = re.sub(r"(?m)#[^\n\"']*$", "", path.read_text())
            assert not bare.search(text), f"{path} shows a bare flask command"
        if path.suffix == ".html" or path.name in ("instance.py", "commands.py"):
            # Nor `facerec ...` alone: it is .venv/bin/facerec from the project folder.
            # (not the comments of a template, nor the docstring of a module)
            shown = re.sub(r"\{#.*?#\}|\A\"\"\".*?\"\"\"", "", path.read_text(), flags=re.S)
            assert not bare_facerec.search(shown), f"{path} shows facerec alone"


def wait_for_page(url: str, process, deadline: float) -> str:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode()
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer")


def serves_the_sign_in_page(line: str, cwd: Path, env: dict) -> str | None:
    """Run one ``make run ...`` line on a port of its own (the documented one may be taken
    on this machine) until it answers /login; what went wrong, if anything."""
    port = free_port()
    process = subprocess.Popen(
        ["bash", "-c", f"{line} PORT={port}"],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        page = wait_for_page(f"http://127.0.0.1:{port}/login", process, time.monotonic() + 120)
        if "Sign in" not in page and "setup" not in page.lower():
            return f"`{line}` served no sign-in page"
        return None
    except AssertionError as exc:
        return f"`{line}`: {exc}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_does_each_documented_make_run_serve_the_sign_in_page(clone, migrated, tmp_path):
    env = user_environment(tmp_path)
    lines = sorted({line for path in pages() for line in shell_lines(path) if is_make_run(line)})
    assert lines

    def serve(line: str) -> str | None:
        # Side by side, servers on one database would share its cameras.
        return serves_the_sign_in_page(line, clone, env | database_env(migrated, tmp_path, line))

    with ThreadPoolExecutor(LANES) as lanes:
        problems = [problem for problem in lanes.map(serve, lines) if problem]
    assert not problems, "\n".join(problems)
