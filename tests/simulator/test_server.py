"""The scaled-clock server, its agency configuration, and the standalone command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx2

from spyagency.simulator.clock import ScaledClock
from spyagency.simulator.scenario import Scenario
from spyagency.simulator.server import SimulatorServer
from spyagency.simulator.timefmt import parse_iso

SRC = Path(__file__).resolve().parents[2] / "src"


def test_scaled_clock_formula() -> None:
    clock = ScaledClock(origin_sim=1000.0, speed=60.0, origin_wall=time.time() - 2.0)
    assert 1000.0 + 60.0 * 2.0 <= clock.now() < 1000.0 + 60.0 * 3.0
    described = clock.describe()
    assert set(described) == {"origin_wall", "origin_sim", "speed", "now"}


def test_scaled_server_runs_the_world(quiet: Scenario, tmp_path: Path) -> None:
    with SimulatorServer(quiet, tmp_path, speed=3600.0) as server:
        config = server.agency_config()
        assert config["conddb_url"] == f"sqlite:///{(tmp_path / 'conddb.sqlite').resolve()}"
        assert config["tier0_url"] == f"{server.base_url}/t0wmadatasvc/prod/"
        assert Path(config["harvest_dir"]).is_dir()
        with httpx2.Client(base_url=server.base_url, timeout=5.0) as client:
            clock = client.get("/sim/clock").json()
            assert clock["speed"] == 3600.0 and clock["origin_sim"] == quiet.start
            first = parse_iso(clock["now"])
            time.sleep(0.3)
            second = parse_iso(client.get("/sim/clock").json()["now"])
            assert 0.25 * 3600 <= second - first <= 3 * 3600
            deadline = time.monotonic() + 10
            runs: list[object] = []
            while not runs and time.monotonic() < deadline:
                runs = client.get("/agg/api/v1/runs").json().get("data", [])
                time.sleep(0.05)
            assert runs, "runs appear as simulated time passes"
            status = client.get("/sim/status").json()
            assert status["scenario"] == "quiet_day" and status["runs_started"] >= 1


def test_standalone_command(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    command = [
        sys.executable,
        "-m",
        "spyagency.simulator",
        "--scenario",
        "quiet_day",
        "--speed",
        "60",
        "--dir",
        str(tmp_path),
        "--port",
        "0",
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as process:
        try:
            assert process.stdout is not None
            lines = []
            for line in process.stdout:
                if line.startswith("# serving"):
                    break
                lines.append(line)
            config = tomllib.loads("".join(lines))["simulator"]
            assert config["clock"]["speed"] == 60.0
            hello = httpx2.get(f"{config['simulator_url']}/t0wmadatasvc/prod/hello", timeout=5.0)
            assert hello.json() == {"result": ["world"]}
        finally:
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=15) == 0
