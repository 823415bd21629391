"""``python -m spyagency.simulator --scenario quiet_day --speed 3600 --dir DIR --port N``.

``--manual-clock`` stops time: it moves only when a driver calls ``POST /sim/advance``.
``--quiet-requests`` sets every per-request HTTP fault rate to zero (windows stay): those faults
are drawn from one random sequence per request, so a driver that repeats requests (after a
crash) would otherwise see a different world than one that does not.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import threading

from spyagency.simulator.config_toml import to_toml
from spyagency.simulator.scenario import load_scenario, packaged_scenarios
from spyagency.simulator.server import SimulatorServer, without_request_faults


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve a simulated CMS world on loopback.")
    parser.add_argument("--scenario", default="quiet_day", help=f"{packaged_scenarios()} or a path")
    parser.add_argument("--speed", type=float, default=3600.0, help="simulated s per wall s")
    parser.add_argument("--dir", default=None, help="where harvest files and CondDB go")
    parser.add_argument("--port", type=int, default=8800, help="0 picks a free port")
    parser.add_argument("--poll-url", default=None, help="agency readiness URL to poll")
    parser.add_argument(
        "--manual-clock", action="store_true", help="time moves only by POST /sim/advance"
    )
    parser.add_argument(
        "--quiet-requests", action="store_true", help="no random per-request HTTP faults"
    )
    args = parser.parse_args(argv)
    scenario = load_scenario(args.scenario)
    if args.quiet_requests:
        scenario = without_request_faults(scenario)
    if args.poll_url:
        readiness = dataclasses.replace(scenario.readiness, poll_url=args.poll_url, consume=True)
        scenario = scenario.replace(readiness=readiness)
    root = args.dir or tempfile.mkdtemp(prefix="spyagency-sim-")
    server = SimulatorServer(
        scenario, root, speed=args.speed, port=args.port, manual_clock=args.manual_clock
    ).start()
    sys.stdout.write(to_toml(server.agency_config()))
    sys.stdout.write("# serving; Ctrl-C stops\n")
    sys.stdout.flush()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
