"""Settings: declared once, read from the defaults, instance/config.py and the environment
(in that order of strength), checked, and documented by a generated reference page."""

import re

import pytest
from flask import Flask

from facerec import config_reference
from facerec.config import SettingError, Settings, configure, declared

from .conftest import ROOT

pytestmark = pytest.mark.sqlite_only

# Environment variables the tests and the Makefile read (not settings of the app).
NOT_SETTINGS = {
    "FACEREC_TEST_DATA",
    "FACEREC_TEST_CAMERA",
    "FACEREC_TEST_DB",
    "FACEREC_PG_BINDIR",
    "FACEREC_CHROMIUM",
    "FACEREC_SCHEMATHESIS_SEED",
}
DECLARED = {spec.env for spec in declared()}


def bare_app(tmp_path, instance_file: str | None = None) -> Flask:
    """A Flask app with its own instance folder (create_app's is the project's)."""
    instance = tmp_path / "instance"
    instance.mkdir()
    if instance_file is not None:
        (instance / "config.py").write_text(instance_file)
    return Flask("facerec", instance_path=str(instance), instance_relative_config=True)


@pytest.fixture
def clean_environment(monkeypatch):
    for name in DECLARED:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_does_the_environment_win_over_instance_config_and_that_over_the_default(
    tmp_path, clean_environment
):
    app = bare_app(tmp_path, "FACEREC_TOLERANCE = 0.5\nFACEREC_SNAPSHOTS = 3\n")
    clean_environment.setenv("FACEREC_TOLERANCE", "0.4")
    settings = configure(app)
    assert settings.tolerance == 0.4
    assert settings.snapshots == 3
    assert settings.detect_width == 640
    assert settings.origins["FACEREC_TOLERANCE"] == "the environment"
    assert settings.origins["FACEREC_SNAPSHOTS"] == "instance/config.py"
    assert settings.origins["FACEREC_DETECT_WIDTH"] == "the default"
    # Flask reads some settings from app.config: the converted values are there too.
    assert app.config["FACEREC_TOLERANCE"] == 0.4
    assert app.extensions["settings"] is settings


def test_does_the_config_given_to_create_app_win_over_the_environment(tmp_path, clean_environment):
    clean_environment.setenv("FACEREC_TOLERANCE", "0.4")
    settings = configure(bare_app(tmp_path), {"FACEREC_TOLERANCE": 0.3})
    assert settings.tolerance == 0.3


def test_are_values_from_the_environment_converted_to_their_types(tmp_path, clean_environment):
    clean_environment.setenv("FACEREC_PUBLIC_STREAM", "yes")
    clean_environment.setenv("FACEREC_AUTOSTART", "off")
    clean_environment.setenv("FACEREC_MAX_VIEWERS", "7")
    clean_environment.setenv("FACEREC_WEBHOOK_BACKOFF", "1, 2.5,30")
    clean_environment.setenv("FACEREC_GROUP_DISTANCE", "0.4")
    clean_environment.setenv("FACEREC_SERVER", "Entrance")
    clean_environment.setenv("FACEREC_DETECT_WIDTH", "")  # empty: not set
    settings = configure(bare_app(tmp_path))
    assert settings.public_stream is True and settings.autostart is False
    assert settings.max_viewers == 7
    assert settings.webhook_backoff == (1.0, 2.5, 30.0)
    assert settings.group_join_distance() == 0.4
    assert settings.server == "entrance"
    assert settings.detect_width == 640


def test_is_an_empty_camera_variable_no_camera(tmp_path, clean_environment):
    clean_environment.setenv("FACEREC_CAMERA", "")
    assert configure(bare_app(tmp_path)).camera == ""


def test_is_the_group_distance_three_quarters_of_the_tolerance_unless_set(
    tmp_path, clean_environment
):
    settings = configure(bare_app(tmp_path), {"FACEREC_TOLERANCE": 0.6})
    assert settings.group_distance is None
    assert settings.group_join_distance() == pytest.approx(0.45)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("FACEREC_TOLERANCE", "abc", "'abc' (from the environment) must be a number."),
        ("FACEREC_TOLERANCE", "1.5", "must be above 0 and at most 1."),
        ("FACEREC_TOLERANCE", "0", "must be above 0 and at most 1."),
        ("FACEREC_MAX_VIEWERS", "2.5", "'2.5' (from the environment) must be a whole number."),
        ("FACEREC_PUBLIC_STREAM", "maybe", "must be 1 or 0 (or true/false, yes/no, on/off)."),
        ("FACEREC_JPEG_QUALITY", "101", "must be at least 1 and at most 100."),
        ("FACEREC_WEBHOOK_BACKOFF", "10,soon", "must be numbers separated by commas"),
        ("FACEREC_SERVER", "front door", "is not a valid server name"),
    ],
)  # fmt: skip
def test_is_a_bad_value_refused_with_the_settings_name_and_source(
    tmp_path, clean_environment, name, value, message
):
    clean_environment.setenv(name, value)
    with pytest.raises(SettingError) as refused:
        configure(bare_app(tmp_path))
    assert message in str(refused.value)
    assert f"{name}=" in str(refused.value)


def test_does_a_bad_value_in_instance_config_say_so(tmp_path, clean_environment):
    app = bare_app(tmp_path, 'FACEREC_SNAPSHOTS = "five"\n')
    with pytest.raises(SettingError, match=r"\(from instance/config.py\) must be a whole"):
        configure(app)


def test_can_a_running_apps_settings_be_changed_only_to_checked_values(app):
    settings = app.extensions["settings"]
    assert settings.replace(snapshots="2").snapshots == 2
    with pytest.raises(SettingError):
        settings.replace(tolerance=3)
    with pytest.raises(TypeError, match="not settings: colour"):
        settings.replace(colour="blue")


def test_is_every_setting_declared_with_a_description_and_where_it_applies():
    for spec in declared():
        assert spec.doc and spec.applies and spec.section, spec.env
        assert spec.env == spec.env.upper()
    assert len(DECLARED) == len(declared()), "two settings share an environment name"


def test_is_the_configuration_reference_generated_from_the_declarations():
    page = (ROOT / "docs" / "configuration.md").read_text()
    for spec in declared():
        assert f"### `{spec.env}`" in page, (
            f"{spec.env} is missing from docs/configuration.md: run `make docs-config`"
        )
        entry = page.split(f"### `{spec.env}`", 1)[1].split("\n### ", 1)[0]
        assert f"Default {config_reference._default(spec)} ·" in entry, (
            f"the default of {spec.env} differs on docs/configuration.md: run `make docs-config`"
        )
    assert config_reference.rewritten(page) == page, (
        "docs/configuration.md is not what facerec/config.py declares: run `make docs-config`"
    )


def _names_in(paths) -> dict[str, str]:
    found = {}
    for path in paths:
        for name in re.findall(
            r"\b(?:FACEREC_[A-Z0-9_]*[A-Z0-9]|DATABASE_URL)\b", path.read_text()
        ):
            found.setdefault(name, str(path.relative_to(ROOT)))
    return found


def test_is_every_setting_that_code_or_a_page_names_declared():
    paths = [
        *(ROOT / "facerec").rglob("*.py"),
        *(ROOT / "facerec" / "templates").rglob("*.html"),
        *(ROOT / "docs").rglob("*.md"),
        ROOT / "README.md",
        ROOT / "Makefile",
    ]
    unknown = {
        name: where
        for name, where in _names_in(paths).items()
        if name not in DECLARED and name not in NOT_SETTINGS
    }
    assert not unknown, (
        "named but not declared in facerec/config.py (declare each setting as a field of "
        "Settings, then run `make docs-config`; a variable only the tests or the Makefile "
        f"read goes in NOT_SETTINGS in tests/test_config.py): {unknown}"
    )


def test_does_no_code_read_a_setting_from_app_config():
    # Settings are read from the one converted value: current_settings().tolerance, never
    # float(current_app.config["FACEREC_TOLERANCE"]).
    keys = "|".join(re.escape(spec.key) for spec in declared() if spec.key.startswith("FACEREC_"))
    reading = re.compile(rf"""config(?:\[|\.get\()\s*["'](?:{keys})["']|config\.(?:{keys})\b""")
    offenders = []
    for path in [*(ROOT / "facerec").rglob("*.py"), *(ROOT / "facerec").rglob("*.html")]:
        if path.name == "config.py" and path.parent.name == "facerec":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if reading.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, (
        "read these with current_settings() (facerec/config.py) instead of app.config:\n"
        + "\n".join(offenders)
    )


def test_does_the_settings_command_show_each_value_and_where_it_came_from(runner, app):
    result = runner.invoke(args=["settings"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()}
    assert set(lines) == DECLARED
    assert "0.6" in lines["FACEREC_TOLERANCE"]
    assert "test-secret-key" not in result.output and "(set)" in lines["SECRET_KEY"]


def test_are_the_settings_a_frozen_value():
    assert Settings.__dataclass_params__.frozen
