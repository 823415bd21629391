"""One crash trial: the engine, as the crash driver's own process, plays a scenario against a
simulator process, and is SIGKILLed and restarted as a kill plan says (``kills=0`` gives the
reference run, never interrupted).

``run_trial`` goes through these steps:

1. start the simulator (``python -m spyagency.simulator --manual-clock --quiet-requests``) as a
   process of its own, so that the world it holds survives every engine life;
2. write an agency configuration that watches it, with a fresh store;
3. run the crash driver (``spyagency.harness.crash_driver``) through its lives, killing and
   restarting it as planned (``spyagency.harness.crash_lives``) until it finishes by itself;
4. collect what the run left behind: the store's fingerprint, the simulated Tier-0's ledger of
   received signals and the ground truth (judged in ``spyagency.harness.crash_verdicts``).

The simulator runs with per-request HTTP faults off (``--quiet-requests``): those are drawn
request by request from one random sequence, so a step redone after a kill would meet other
faults than the reference met, and the comparison would measure the dice instead of the engine.
Scripted fault windows and per-file faults stay on; they depend on simulated time alone.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx2

from spyagency.config.loading import parse_settings
from spyagency.harness.crash_lives import child_environment, kill_plan, run_lives
from spyagency.harness.crash_verdicts import TrialRun, store_fingerprint
from spyagency.harness.toml_text import to_toml

SIM_START_TIMEOUT_S = 60.0
HTTP_TIMEOUT_S = 30.0


# --- the simulator process ----------------------------------------------------------------


@dataclass
class SimulatorProcess:
    process: subprocess.Popen[str]
    config: dict[str, Any]

    @property
    def url(self) -> str:
        return str(self.config["simulator_url"])

    def get(self, path: str) -> Any:
        with httpx2.Client(base_url=self.url, timeout=HTTP_TIMEOUT_S) as client:
            answer = client.get(path)
            answer.raise_for_status()
            return answer.json()


@contextmanager
def simulator_process(scenario: str, root: Path) -> Iterator[SimulatorProcess]:
    command = [
        sys.executable,
        "-m",
        "spyagency.simulator",
        "--scenario",
        scenario,
        "--manual-clock",
        "--quiet-requests",
        "--port",
        "0",
        "--dir",
        str(root),
    ]
    log = (root.parent / "simulator.log").open("w")
    # The command is ours: this interpreter and fixed arguments.
    process = subprocess.Popen(  # noqa: S603
        command, stdout=subprocess.PIPE, stderr=log, text=True, env=child_environment()
    )
    try:
        assert process.stdout is not None
        config = tomllib.loads(_read_until(process.stdout, "# serving"))["simulator"]
        yield SimulatorProcess(process, config)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
        log.close()


def _read_until(stream: IO[str], marker: str) -> str:
    lines: list[str] = []
    deadline = time.monotonic() + SIM_START_TIMEOUT_S
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            raise RuntimeError("the simulator exited before serving:\n" + "".join(lines))
        if line.startswith(marker):
            return "".join(lines)
        lines.append(line)
    raise RuntimeError("the simulator did not start in time")


def agency_document(sim: dict[str, Any], database_url: str) -> dict[str, Any]:
    """An agency watching the simulator ``sim`` (its ``agency_config()``), storing in
    ``database_url``. One poll per step and no retries: a failed poll is redone a step later."""
    fast = {"retries": 0, "timeout_seconds": 10.0}
    return {
        "database": {"url": database_url},
        "sources": {
            "tier0": {"url": sim["tier0_url"], **fast},
            "oms": {"url": sim["oms_url"], **fast},
            "harvest": {"path": sim["harvest_dir"]},
            "conddb": {"url": sim["conddb_url"], **fast},
            "upload_log": {"url": sim["upload_logs_url"], **fast},
            "dqm": {"url": sim["dqm_url"], **fast},
            "wmstats": {"url": sim["wmstats_url"], **fast},
            "prompt_global_tags": [sim["prompt_global_tag"]],
        },
        "signals": {
            "webhook_url": sim["tier0_readiness_webhook_url"],
            "webhook_secret": sim["readiness_secret"],
        },
        "web": {"public_url": "http://agency.invalid"},
    }


# --- the trial ------------------------------------------------------------------------------


def run_trial(
    scenario: str,
    workdir: Path,
    *,
    hours: float,
    step: timedelta = timedelta(minutes=10),
    kills: int = 0,
    seed: int = 1,
    database_url: str | None = None,
    kill_after_deliveries: int | None = None,
) -> TrialRun:
    """One run of ``scenario`` for ``hours`` simulated hours from its start (see the module)."""
    began = time.perf_counter()
    workdir.mkdir(parents=True, exist_ok=True)
    database_url = database_url or f"sqlite:///{workdir / 'agency.db'}"
    with simulator_process(scenario, workdir / "simulator") as sim:
        start = float(sim.get("/sim/clock")["origin_sim"])
        until = datetime.fromtimestamp(start + hours * 3600, UTC)
        document = agency_document(sim.config, database_url)
        parse_settings(document)  # fail here, not in every life, if it is wrong
        config = workdir / "agency.toml"
        config.write_text(to_toml(document), "utf-8")
        origin = datetime.fromtimestamp(start, UTC)
        command = driver_command(config, sim.url, origin, until, step)
        step_s = step.total_seconds()
        steps = int(hours * 3600 // step_s) + 1
        plan = kill_plan(kills, steps, seed)
        first = None
        if kill_after_deliveries is not None:
            first = [*command, "--kill-after-deliveries", str(kill_after_deliveries)]
        with (workdir / "driver.log").open("a") as stderr:
            lives = run_lives(command, plan, start, step_s, stderr, first)
        deliveries = sim.get("/sim/received")["deliveries"]
        truth = sim.get("/sim/truth")
    fingerprint = store_fingerprint(database_url)
    return TrialRun(fingerprint, deliveries, truth, lives, time.perf_counter() - began)


def driver_command(
    config: Path, sim_url: str, start: datetime, until: datetime, step: timedelta
) -> list[str]:
    return [
        sys.executable,
        "-m",
        "spyagency.harness.crash_driver",
        "--config",
        str(config),
        "--sim",
        sim_url,
        "--start",
        start.isoformat(),
        "--until",
        until.isoformat(),
        "--step-minutes",
        f"{step.total_seconds() / 60:g}",
    ]
