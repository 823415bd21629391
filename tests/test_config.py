"""The configuration loader: precise errors, environment overrides, documented settings."""

from __future__ import annotations

import json
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from spyagency.bootstrap import build_spies
from spyagency.config.loading import ConfigError, load_settings, parse_settings
from spyagency.config.settings import Settings
from spyagency.domain.clock import ManualClock
from spyagency.serving import check_settings
from spyagency.spies.upload_log import UploadLogSpy

ROOT = Path(__file__).resolve().parents[1]


def setting_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys.extend(setting_keys(annotation, f"{prefix}{name}."))
        else:
            keys.append(f"{prefix}{name}")
    return keys


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    documented = set(re.findall(r"^\|\s*`([a-z0-9_.<>]+)`", readme, flags=re.MULTILINE))
    keys = set(setting_keys(Settings))
    # Each source has the same fields; the README documents them once as sources.<name>.*.
    generic = {
        re.sub(
            r"^sources\.(tier0|oms|harvest|conddb|upload_log|dqm|wmstats)\.", "sources.<name>.", k
        )
        for k in keys
    }
    missing = sorted(k for k in generic if k not in documented)
    assert not missing, f"settings missing from the README configuration reference: {missing}"
    stale = sorted(d for d in documented if d not in generic)
    assert not stale, f"README documents settings that do not exist: {stale}"


def test_defaults_are_the_production_tier0_numbers() -> None:
    policy = Settings().policy.to_policy()
    assert policy.reco_delay.total_seconds() == 48 * 3600
    assert policy.lock_in_offset.total_seconds() == 30 * 60
    assert policy.harvest_timeout.total_seconds() == 12 * 3600
    assert policy.upload_timeout.total_seconds() == 18 * 3600


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"database": {"urll": "x"}}, "database.urll: unknown setting"),
        (
            {"sources": {"tier0": {"poll_interval_seconds": "often"}}},
            "sources.tier0.poll_interval_seconds",
        ),
        ({"sources": {"tier0": {"poll_interval_seconds": -1}}}, "greater than or equal to 0.01"),
        ({"policy": {"stale_after_minutes": {"tier9": 5}}}, "unknown source 'tier9'"),
        ({"policy": {"stuck_after_hours": {"cooking": 5}}}, "unknown workflow state 'cooking'"),
        ({"clock": {"mode": "sundial"}}, "clock.mode"),
        (
            {"policy": {"groups": [{"name": "g", "workflows": ["a"]}]}},
            "policy.groups.0.k: Field required",
        ),
    ],
)
def test_errors_name_the_bad_key_and_what_is_expected(
    document: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(document)
    assert message in str(caught.value)


def test_file_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_settings(tmp_path / "absent.toml", environ={})
    broken = tmp_path / "broken.toml"
    broken.write_text("[database\nurl = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(broken, environ={})


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = tmp_path / "agency.toml"
    path.write_text('[database]\nurl = "sqlite:///file.db"\n[sources.tier0]\nurl = "http://a"\n')
    settings = load_settings(
        path,
        environ={
            "SPYAGENCY__DATABASE__URL": "postgresql+psycopg://u@h/db",
            "SPYAGENCY__SOURCES__TIER0__POLL_INTERVAL_SECONDS": "15",
            "SPYAGENCY__POLICY__OPTIONAL_WORKFLOWS": '["SiStripLA"]',
            "OTHER": "ignored",
        },
    )
    assert settings.database.url == "postgresql+psycopg://u@h/db"
    assert settings.sources.tier0.url == "http://a"
    assert settings.sources.tier0.poll_interval_seconds == 15
    assert settings.policy.optional_workflows == ["SiStripLA"]


def test_the_example_configuration_is_valid() -> None:
    settings = load_settings(ROOT / "docs" / "example-config.toml", environ={})
    assert settings.sources.tier0.url
    assert check_settings(settings) == []


@given(
    st.dictionaries(
        st.text(max_size=8),
        st.one_of(st.integers(), st.text(max_size=8), st.booleans(), st.none()),
        max_size=5,
    )
)
def test_arbitrary_documents_either_load_or_raise_config_error(document: dict[str, Any]) -> None:
    try:
        parse_settings({"sources": {"tier0": document}, **document})
    except ConfigError as error:
        assert str(error)


# -- fuzzing the loader ------------------------------------------------------------------------
# Whatever a file or the environment holds, the loader answers with a Settings or a ConfigError
# naming the bad key; a valid configuration survives being written out and read back.

LEAVES = sorted(setting_keys(Settings))
NAMES = sorted({part for key in LEAVES for part in key.split(".")})
KEYS = st.sampled_from(NAMES) | st.text(max_size=6)
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | TEXT
)
JSON_LIKE = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(KEYS, children, max_size=3),
    max_leaves=12,
)
# Values a leaf setting may plausibly be given: right or wrong type, in or out of range.
LEAF_VALUES = (
    st.booleans()
    | st.integers(min_value=-5, max_value=70000)
    | st.floats(min_value=-10, max_value=1e6, allow_nan=False)
    | TEXT
    | st.sampled_from(["none", "bearer", "system", "scaled", "DEBUG", "WARNING", "tier0"])
    | st.lists(TEXT | st.sampled_from(["tier0", "oms", "dqm"]), max_size=3)
    | st.dictionaries(st.sampled_from(["harvested", "tier0", "cooking"]), st.floats(0.1, 99))
    | st.lists(
        st.fixed_dictionaries({"name": TEXT, "workflows": st.lists(TEXT, max_size=2)}).map(
            lambda group: {**group, "k": 1}
        ),
        max_size=2,
    )
)


def nested(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"web.port": 1}`` -> ``{"web": {"port": 1}}``."""
    document: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, last = key.split(".")
        table = document
        for part in parents:
            table = table.setdefault(part, {})
        table[last] = value
    return document


def flattened(document: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """The inverse of ``nested`` down to the leaf settings (table-valued settings stay whole)."""
    flat: dict[str, Any] = {}
    for key, value in document.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and path not in LEAVES:
            flat.update(flattened(value, f"{path}."))
        else:
            flat[path] = value
    return flat


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        # JSON string escapes are TOML's, except that TOML wants DEL escaped as well.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        items = (f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items() if v is not None)
        return "{" + ", ".join(items) + "}"
    raise TypeError(f"no TOML for {value!r}")


def to_toml(document: dict[str, Any]) -> str:
    return "".join(
        f"{json.dumps(key)} = {toml_value(value)}\n"
        for key, value in document.items()
        if value is not None
    )


@given(st.dictionaries(KEYS, JSON_LIKE, max_size=5))
def test_any_document_loads_or_raises_config_error_only(document: dict[str, Any]) -> None:
    try:
        parse_settings(document)
    except ConfigError as error:
        assert str(error)


@given(
    st.dictionaries(
        st.lists(st.sampled_from(NAMES) | st.text("AbZ_9", max_size=4), max_size=4).map(
            lambda parts: "SPYAGENCY__" + "__".join(parts).upper()
        ),
        TEXT | JSON_LIKE.map(json.dumps) | st.just("[" * 5000 + "]" * 5000),
        max_size=5,
    )
)
def test_any_environment_loads_or_raises_config_error_only(environ: dict[str, str]) -> None:
    try:
        parse_settings({}, environ)
    except ConfigError as error:
        assert str(error)


@settings(max_examples=50)
@given(st.binary(max_size=200) | TEXT.map(str.encode))
def test_any_file_loads_or_raises_config_error_only(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "agency.toml"
        path.write_bytes(content)
        try:
            load_settings(path, environ={})
        except ConfigError as error:
            assert str(path) in str(error) or str(error)


def field_annotation(key: str) -> Any:
    model: Any = Settings
    *parents, last = key.split(".")
    for part in parents:
        model = model.model_fields[part].annotation
    return model.model_fields[last].annotation


def field_metadata(key: str) -> list[Any]:
    """The constraints (``Ge``, ``Le``...) declared on ``key``'s field."""
    model: Any = Settings
    *parents, last = key.split(".")
    for part in parents:
        model = model.model_fields[part].annotation
    return list(model.model_fields[last].metadata)


def valid_values(key: str) -> st.SearchStrategy[Any]:
    """Values every setting of ``key``'s type accepts (table-valued settings aside)."""
    if key == "database.url":  # checked for being a URL
        return st.sampled_from(["sqlite:///agency.db", "postgresql+psycopg://agency@db/agency"])
    annotation = field_annotation(key)
    options = set(get_args(annotation)) | {annotation}
    if get_origin(annotation) is Literal:
        return st.sampled_from(get_args(annotation))
    if annotation == list[str]:
        return st.lists(st.sampled_from(["tier0", "oms", "dqm"]), max_size=3)
    if get_origin(annotation) in (dict, list):
        return st.nothing()
    if bool in options:
        return st.booleans()
    if float in options:
        bounds = field_metadata(key)
        low = max([0.5, *(getattr(m, "ge", 0.5) for m in bounds)])
        high = min([1e6, *(getattr(m, "le", 1e6) for m in bounds)])
        return st.floats(min_value=low, max_value=high)
    if int in options:
        low = max([1, *(getattr(m, "ge", 1) for m in field_metadata(key))])
        return st.integers(min_value=low, max_value=low + 9)
    if str in options:
        return TEXT
    return st.nothing()


SCALAR_LEAVES = [key for key in LEAVES if not valid_values(key).is_empty]


def round_trip(settings: Settings) -> None:
    """Written out as TOML and as environment variables, ``settings`` reads back equal."""
    dumped = settings.model_dump(exclude_none=True)
    assert load_toml_text(to_toml(dumped)) == settings
    environ = {
        "SPYAGENCY__" + key.replace(".", "__").upper(): json.dumps(value)
        for key, value in flattened(dumped).items()
    }
    assert parse_settings({}, environ) == settings


@given(
    st.lists(st.sampled_from(SCALAR_LEAVES), unique=True, max_size=8).flatmap(
        lambda keys: st.fixed_dictionaries({key: valid_values(key) for key in keys})
    )
)
def test_valid_documents_round_trip(changes: dict[str, Any]) -> None:
    settings = parse_settings(nested(changes))
    for key, value in changes.items():
        section: Any = settings
        for part in key.split("."):
            section = getattr(section, part)
        assert section == value
    round_trip(settings)


@given(st.dictionaries(st.sampled_from(LEAVES), LEAF_VALUES, min_size=1, max_size=4))
def test_known_keys_either_round_trip_or_each_error_names_a_given_key(
    changes: dict[str, Any],
) -> None:
    try:
        settings = parse_settings(nested(changes))
    except ConfigError as error:
        event("rejected")
        for line in str(error).splitlines():
            key = line.split(":", 1)[0]
            assert any(key == given or key.startswith(f"{given}.") for given in changes), line
        return
    event("valid")
    round_trip(settings)


def load_toml_text(text: str) -> Settings:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "agency.toml"
        path.write_text(text, "utf-8")
        return load_settings(path, environ={})


def test_the_fuzzed_shapes_come_back_with_clear_errors(tmp_path: Path) -> None:
    deep_json = "[" * 5000 + "]" * 5000
    with pytest.raises(ConfigError, match=r"web\.port"):
        parse_settings({}, {"SPYAGENCY__WEB__PORT": deep_json})
    deep_value: list[Any] = []
    for _ in range(3000):
        deep_value = [deep_value]
    with pytest.raises(ConfigError, match=r"web\.host"):
        parse_settings({"web": {"host": deep_value}})
    with pytest.raises(ConfigError, match=r"policy\.magnet_on_above: .*finite"):
        parse_settings({"policy": {"magnet_on_above": float("nan")}})

    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes(b'[web]\nhost = "caf\xe9"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(latin1, environ={})
    deep_toml = tmp_path / "deep.toml"
    deep_toml.write_text("x = " + "[" * 5000 + "]" * 5000)
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(deep_toml, environ={})
    with pytest.raises(ConfigError, match="cannot read it"):
        load_settings(tmp_path, environ={})


def test_retention_settings() -> None:
    assert Settings().retention.max_age_days == 90
    keep = parse_settings({}, {"SPYAGENCY__RETENTION__MAX_AGE_DAYS": "0"})
    assert keep.retention.max_age_days == 0
    with pytest.raises(ConfigError, match=r"retention\.compact_every_hours"):
        parse_settings({"retention": {"compact_every_hours": 0}})


def test_the_too_late_wording_is_a_setting_that_reaches_the_upload_log_spy() -> None:
    settings = parse_settings(
        {
            "sources": {
                "upload_log": {"url": "http://127.0.0.1:9/logs/dropBox/"},
                "upload_late_wording": ["Refused: Since Below FCSR"],
            }
        }
    )
    schedules = build_spies(settings, ManualClock(datetime(2026, 6, 1, tzinfo=UTC)))
    (spy,) = [s.spy for s in schedules if isinstance(s.spy, UploadLogSpy)]
    assert spy.late_wording == ("refused: since below fcsr",)
    with pytest.raises(ConfigError, match="upload_late_wording"):
        parse_settings({"sources": {"upload_late_wording": []}})
