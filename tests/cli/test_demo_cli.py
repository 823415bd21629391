"""``spyagency demo`` as a newcomer runs it: it says how to log in as each role and how to
point the command line at it; the command line then acts at the demo's clock; on Ctrl-C its
temporary folder goes away."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import httpx2
import pytest

from spyagency.web.authorization import Role
from tests.cli.cli_process import clean_environment, spyagency

DATA_NOW = re.compile(r'data-now="([^"]+)"')


def _agency_now(http: httpx2.Client, url: str) -> datetime:
    found = DATA_NOW.search(http.get(url + "login").text)
    assert found is not None
    return datetime.fromisoformat(found.group(1))


@pytest.mark.timeout(180)
def test_the_demo_greets_serves_the_cli_at_its_clock_and_cleans_up(tmp_path: Path) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    environment = {**clean_environment(tmp_path), "TMPDIR": str(temporary)}
    process = subprocess.Popen(
        [sys.executable, "-m", "spyagency", "demo", "--port", "0", "--speed", "600"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment,
        cwd=tmp_path,
    )
    greeting: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            greeting.append(line.rstrip("\n"))
            if line.startswith("files in "):
                break
        text = "\n".join(greeting)
        started = re.search(r"Spy-Agency demo at (http://127\.0\.0\.1:\d+/)", text)
        config = re.search(r"-c (\S+agency\.toml)", text)
        assert started is not None and config is not None, text
        url, config_file = started.group(1), Path(config.group(1))
        for role in Role:
            assert f"  {role.label}" in text and f"login_hint={role.label}" in text, text
        assert "(removed on exit; --dir DIR keeps them)" in text
        assert config_file.parent.parent == temporary

        with httpx2.Client(timeout=10) as http:
            before = _agency_now(http, url)
            issued = spyagency(
                "token",
                "issue",
                "demo-bot",
                "--role",
                "operator",
                "-c",
                str(config_file),
                cwd=tmp_path,
                environment=environment,
            )
            after = _agency_now(http, url)
            audit = http.get(url + "api/v1/audit").json()["items"]
        assert issued.returncode == 0, issued.stderr
        entry = next(item for item in audit if item["action"] == "token.issue")
        # Recorded at the demo's "now", between two readings of it, not at the wall clock's.
        assert before <= datetime.fromisoformat(entry["at"]) <= after
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
        if process.stdout is not None:
            process.stdout.close()
    assert process.returncode == 0
    assert list(temporary.iterdir()) == []
