"""``config check`` refuses what would crash ``serve`` or silently disable the agency, names
the setting, never prints a secret, and every file it accepts builds a runtime cleanly."""

from __future__ import annotations

import asyncio
import json
import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from spyagency.bootstrap import build_runtime
from spyagency.cli import app
from spyagency.config.loading import load_settings
from spyagency.serving import serve

runner = CliRunner()

BROKEN = [
    ('[database]\nurl = "not a url at all"\n', "database.url"),
    ("[policy]\nharvest_timeout_hours = 1e300\n", "policy.harvest_timeout_hours"),
    ("[sources.tier0]\npoll_interval_seconds = 1e-300\n", "sources.tier0.poll_interval_seconds"),
    ("[policy.stale_after_minutes]\ntier0 = -5\n", "policy.stale_after_minutes"),
    ("[policy.stuck_after_hours]\nharvesting = 1e300\n", "policy.stuck_after_hours"),
    (
        '[[policy.groups]]\nname = "ali"\nworkflows = ["SiPixelAli"]\nk = 2\n',
        "can never be met",
    ),
    (
        '[[policy.groups]]\nname = "g"\nworkflows = ["NoSuchWorkflow"]\nk = 1\n',
        "policy.groups.g: not in the catalogue: NoSuchWorkflow",
    ),
    ('[policy]\ncatalogue_path = "/nowhere/catalogue.toml"\n', "policy.catalogue_path"),
    ('[policy]\nexempt_run_classes = ["Cosmics(24"]\n', "not a regular expression"),
    ('[policy]\noptional_workflows = ["Typo"]\n', "policy.optional_workflows"),
    ('[clock]\nmode = "scaled"\n', "clock"),
    (
        '[sources.oms]\nurl = "https://oms.example/agg/api/v1/"\n[sources.oms.auth]\n'
        'kind = "oidc"\n',
        "missing its credentials",
    ),
    ("[alerts.email]\nenabled = true\n", "without recipients"),
    ("[policy]\nmagnet_on_above = -1\n", "policy.magnet_on_above"),
]


@pytest.mark.parametrize(("text", "named"), BROKEN)
def test_a_broken_file_is_refused_naming_the_setting(tmp_path: Path, text: str, named: str) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(text)
    result = runner.invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 2, result.output
    assert named in result.output, result.output
    assert "Traceback" not in result.output


def test_no_secret_is_ever_printed(tmp_path: Path) -> None:
    path = tmp_path / "secret.toml"
    path.write_text('[database]\nurl = "postgresql://agency:hunter2@db.example/agency"\n')
    result = runner.invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output and "agency:***@db.example" in result.output
    broken = tmp_path / "broken.toml"
    broken.write_text('[database]\nurl = "postgresql//agency:hunter2@db"\n')
    result = runner.invoke(app, ["config", "check", str(broken)])
    assert result.exit_code == 2 and "hunter2" not in result.output


ACCEPTED = [
    "[web]\nport = 9000\n",
    '[[policy.groups]]\nname = "ali"\nworkflows = ["SiPixelAli", "SiPixelAliHG"]\nk = 1\n',
    '[policy]\nexempt_run_classes = ["Cosmics.*"]\nharvest_timeout_hours = 8760\n',
    "[sources.tier0]\npoll_interval_seconds = 0.1\n",
]


@pytest.mark.parametrize("text", ACCEPTED)
def test_an_accepted_file_builds_a_runtime(tmp_path: Path, text: str) -> None:
    path = tmp_path / "good.toml"
    path.write_text(text + f'\n[database]\nurl = "sqlite:///{tmp_path / "agency.db"}"\n')
    result = runner.invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 0, result.output
    runtime = build_runtime(load_settings(path, environ={}))
    runtime.store.dispose()


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["token", "issue", ""], "token name"),
        (["token", "issue", "tier0", "--role", "admin"], "role"),
        (["token", "issue", "evil\nname"], "token name"),
        (["token", "issue", "\x1b[31mred"], "token name"),
    ],
)
def test_token_issue_refuses_cleanly(tmp_path: Path, args: list[str], said: str) -> None:
    config = tmp_path / "agency.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "agency.db"}"\n')
    result = runner.invoke(app, [*args, "-c", str(config)])
    assert result.exit_code == 2, result.output
    assert said in result.output and "Traceback" not in result.output


def test_token_names_are_unique_among_active_tokens(tmp_path: Path) -> None:
    config = tmp_path / "agency.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "agency.db"}"\n')
    first = runner.invoke(app, ["token", "issue", "tier0-poller", "-c", str(config)])
    again = runner.invoke(app, ["token", "issue", "tier0-poller", "-c", str(config)])
    assert first.exit_code == 0 and again.exit_code == 2
    assert "already called" in again.output
    runner.invoke(app, ["token", "revoke", "tier0-poller", "-c", str(config)])
    renewed = runner.invoke(app, ["token", "issue", "tier0-poller", "-c", str(config)])
    assert renewed.exit_code == 0, renewed.output


# Settings an operator edits, each with values from sensible to absurd: whatever ``config
# check`` accepts among these must start ``serve`` for real.
_SENSIBLE = st.one_of(
    st.sampled_from([0.5, 1, 6, 12, 48, 90]), st.floats(min_value=0.05, max_value=100)
)
_ABSURD = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1e-300, 1e300, -1]),
)
# Mostly sensible: a file with one absurd value among four is refused, and the property is
# about the files that are accepted.
_NUMBERS = st.one_of(_SENSIBLE, _SENSIBLE, _SENSIBLE, _ABSURD)
_WORKFLOWS = st.lists(
    st.sampled_from(["SiPixelAli", "SiStripGains", "SiPixelAli", "*", "Typo"]), max_size=2
)
_EDITS: dict[str, st.SearchStrategy[object]] = {
    "policy.reco_delay_hours": _NUMBERS,
    "policy.lock_in_offset_minutes": _NUMBERS,
    "policy.harvest_timeout_hours": _NUMBERS,
    "policy.deadline_lead_hours": _NUMBERS,
    "policy.magnet_on_above": _NUMBERS,
    "policy.stale_after_minutes.tier0": _NUMBERS,
    "policy.stuck_after_hours.harvesting": _NUMBERS,
    "policy.optional_workflows": _WORKFLOWS,
    "policy.quality_gate": _WORKFLOWS,
    "policy.exempt_run_classes": st.lists(
        st.sampled_from(["Cosmics.*", "Cosmics.*", "", "(", "a{2,1}"]), max_size=2
    ),
    "policy.critical_sources": st.lists(
        st.sampled_from(["tier0", "conddb", "dqm", "nope"]), max_size=2
    ),
    "engine.evaluate_interval_seconds": _NUMBERS,
    "engine.heartbeat_seconds": _NUMBERS,
    "retention.max_age_days": _NUMBERS,
    "signals.max_per_minute": _NUMBERS,
    "web.max_body_bytes": _NUMBERS,
}


def _toml_value(value: object) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    return str(value)


def _document(edits: dict[str, object], database: Path) -> str:
    tables: dict[str, list[str]] = {"database": [f'url = "sqlite:///{database}"'], "web": []}
    tables["web"].append("port = 0")
    for dotted, value in edits.items():
        table, _, key = dotted.rpartition(".")
        tables.setdefault(table, []).append(f"{key} = {_toml_value(value)}")
    return "\n".join(f"[{table}]\n" + "\n".join(lines) + "\n" for table, lines in tables.items())


async def _serve_once(path: Path) -> None:
    """``serve`` as the command runs it, stopped as soon as the engine and the web run."""
    runtime = build_runtime(load_settings(path, environ={}))
    stop = asyncio.Event()
    try:
        await asyncio.wait_for(serve(runtime, stop=stop, on_ready=lambda _s: stop.set()), 60)
    finally:
        await runtime.aclose()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    edits=st.dictionaries(
        st.sampled_from(sorted(_EDITS)), st.none(), min_size=1, max_size=4
    ).flatmap(lambda keys: st.fixed_dictionaries({key: _EDITS[key] for key in keys}))
)
def test_whatever_config_check_accepts_starts_serve(
    tmp_path: Path, edits: dict[str, object]
) -> None:
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    path = folder / "agency.toml"
    path.write_text(_document(edits, folder / "agency.db"))
    result = runner.invoke(app, ["config", "check", str(path)])
    assert "Traceback" not in result.output
    assert result.exit_code in (0, 2), result.output
    event("accepted" if result.exit_code == 0 else "refused")
    if result.exit_code == 0:
        asyncio.run(_serve_once(path))
