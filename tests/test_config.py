"""The configuration loader: precise errors, environment overrides, documented settings."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from spyagency.config import ConfigError, Settings, load_settings, parse_settings

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
        ({"sources": {"tier0": {"poll_interval_seconds": -1}}}, "greater than 0"),
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
