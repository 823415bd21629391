"""The command line as a user meets it."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from spyagency.cli import app

runner = CliRunner()


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "db", "config", "demo", "simulate"):
        assert command in result.output


def test_config_check_accepts_a_good_file_and_rejects_a_broken_one(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text("[web]\nport = 9000\n")
    result = runner.invoke(app, ["config", "check", str(good)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output

    bad = tmp_path / "bad.toml"
    bad.write_text('[web]\nport = "ninety"\n[signals]\ndry_runn = true\n')
    result = runner.invoke(app, ["config", "check", str(bad)])
    assert result.exit_code == 2
    assert "web.port" in result.output
    assert "signals.dry_runn: unknown setting" in result.output
