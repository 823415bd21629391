"""Which database a command uses is never a surprise, and refusals are one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from spyagency.cli import app
from tests.cli.cli_process import clean_environment, spyagency

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "work").mkdir()
    return tmp_path


def test_without_a_configuration_nothing_is_created_and_the_way_out_is_named(
    home: Path,
) -> None:
    environment = clean_environment(home)
    default = home / "data" / "spyagency" / "spyagency.db"
    for command in (
        ["token", "issue", "tier0-poller"],
        ["token", "revoke", "tier0-poller"],
        ["session", "end", "olga"],
        ["db", "compact"],
    ):
        result = spyagency(*command, cwd=home / "work", environment=environment)
        assert result.returncode == 2, (command, result.stderr)
        assert f"no database at {default}" in result.stderr
        assert "-c FILE" in result.stderr and "Traceback" not in result.stderr
        assert result.stdout == ""
    assert not default.exists()
    assert list((home / "work").iterdir()) == []


def test_the_default_database_once_created_is_used_and_named(home: Path) -> None:
    environment = clean_environment(home)
    default = home / "data" / "spyagency" / "spyagency.db"
    created = spyagency("db", "upgrade", cwd=home / "work", environment=environment)
    assert created.returncode == 0, created.stderr
    assert f"using the default database sqlite:///{default}" in created.stderr
    issued = spyagency("token", "issue", "tier0-poller", cwd=home / "work", environment=environment)
    assert issued.returncode == 0, issued.stderr
    assert issued.stdout.startswith("spy_")
    assert f"using the default database sqlite:///{default}" in issued.stderr
    assert list((home / "work").iterdir()) == []


def test_an_explicit_database_says_nothing_more(home: Path) -> None:
    environment = clean_environment(home)
    environment["SPYAGENCY__DATABASE__URL"] = f"sqlite:///{home / 'named.db'}"
    issued = spyagency("token", "issue", "tier0-poller", cwd=home / "work", environment=environment)
    assert issued.returncode == 0, issued.stderr
    assert "default" not in issued.stderr
    assert (home / "named.db").exists()


@pytest.mark.parametrize("with_config", [True, False], ids=["with -c", "without -c"])
def test_an_unknown_role_is_one_line_not_a_traceback(home: Path, with_config: bool) -> None:
    config = home / "agency.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{home / "agency.db"}"\n')
    args = ["token", "issue", "tier0", "--role", "admin", *(["-c", str(config)] * with_config)]
    result = spyagency(*args, cwd=home / "work", environment=clean_environment(home))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "token not issued: unknown role 'admin'; expected one of viewer, operator, expert"
    )
    # Refused before any store is opened.
    assert not (home / "agency.db").exists()


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def test_whatif_reports_policy_problems_as_config_check_does(tmp_path: Path) -> None:
    config = tmp_path / "agency.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "agency.db"}"\n')
    bad_policy = '[policy]\noptional_workflows = ["NoSuchWorkflow"]\nreco_delay_hours = 48\n'
    alternative = tmp_path / "alternative.toml"
    alternative.write_text(bad_policy)
    checked = tmp_path / "checked.toml"
    checked.write_text(config.read_text() + bad_policy)

    whatif = runner.invoke(app, ["whatif", "--policy", str(alternative), "-c", str(config)])
    check = runner.invoke(app, ["config", "check", str(checked)])

    assert whatif.exit_code == check.exit_code == 2
    problem = "  policy.optional_workflows: not in the catalogue: NoSuchWorkflow"
    assert _lines(whatif.output) == ["configuration error", f"{alternative}:", problem]
    assert _lines(check.output) == ["configuration error", f"{checked}:", problem]


@pytest.mark.parametrize(
    ("policy", "problem"),
    [
        ('[policy]\nreco_delay_hours = "soon"\n', "  policy.reco_delay_hours: Input should be"),
        ('[policy]\nexempt_run_classes = ["("]\n', "  policy.exempt_run_classes: Value error"),
        ("[policy\n", "  not valid TOML"),
        ("[signals]\nenabled = false\n", "  policy: no [policy] table"),
    ],
)
def test_whatif_refuses_a_bad_policy_file_one_line_per_problem(
    tmp_path: Path, policy: str, problem: str
) -> None:
    config = tmp_path / "agency.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "agency.db"}"\n')
    alternative = tmp_path / "alternative.toml"
    alternative.write_text(policy)
    result = runner.invoke(app, ["whatif", "--policy", str(alternative), "-c", str(config)])
    assert result.exit_code == 2
    lines = _lines(result.output)
    assert lines[:2] == ["configuration error", f"{alternative}:"]
    assert lines[2].startswith(problem), lines
    assert "Traceback" not in result.output


def test_whatif_runs_on_a_good_policy_file(tmp_path: Path) -> None:
    config = tmp_path / "agency.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "agency.db"}"\n')
    alternative = tmp_path / "alternative.toml"
    alternative.write_text("[policy]\nreco_delay_hours = 30\n")
    result = runner.invoke(app, ["whatif", "--policy", str(alternative), "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert "0 of 0 runs shown" in result.output
