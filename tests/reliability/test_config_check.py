"""``config check`` refuses what would crash ``serve`` or silently disable the agency, names
the setting, never prints a secret, and every file it accepts builds a runtime cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from spyagency.bootstrap import build_runtime
from spyagency.cli import app
from spyagency.config import load_settings

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
