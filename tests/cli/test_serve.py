"""``spyagency serve`` as an operator starts it: a real process on a free port."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest


@pytest.mark.timeout(120)
def test_serve_on_port_zero_prints_the_port_it_really_listens_on(tmp_path: Path) -> None:
    config = tmp_path / "agency.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "agency.db"}"\n[web]\nport = 0\n'
        "[signals]\nenabled = false\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "spyagency", "serve", "-c", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 90
        listening = None
        while listening is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            listening = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", line)
        assert listening is not None, "serve never said where it listens"
        port = int(listening.group(1))
        assert port != 0
        assert httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()
