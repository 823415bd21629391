"""Run the real ``spyagency`` program in a child process, in an environment of the test's
own: no ``SPYAGENCY_*`` variable of the caller, its own data folder and working folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def clean_environment(home: Path) -> dict[str, str]:
    """The caller's environment minus the agency's variables; XDG data under ``home``."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SPYAGENCY")}
    environment.update(XDG_DATA_HOME=str(home / "data"), HOME=str(home), COLUMNS="200")
    return environment


def spyagency(
    *args: str, cwd: Path, environment: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "spyagency", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
