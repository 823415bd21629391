"""Short forms of the benchmarks, so the suite notices when one no longer runs. Their figures
are read by people against limits measured in the same run (``docs/performance.md``), never
asserted here: the machines are shared and noisy."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


def run_bench(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=BENCH,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_forecast_bench_forecasts_every_open_run() -> None:
    said = run_bench("forecast.py", "--runs", "300", "--open", "6", "--repeat", "3")
    ratio = re.search(r"^RATIO (\d+(\.\d+)?)", said, re.MULTILINE)
    assert ratio is not None, said
    assert float(ratio.group(1)) > 0
