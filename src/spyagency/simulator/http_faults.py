"""ASGI middleware that keeps the world current and injects HTTP faults per service.

It sits outside the application: it advances the World to the clock before every request, then
asks the FaultState whether this request of this service should go wrong, and how.
"""

from __future__ import annotations

import json
import random
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from spyagency.simulator.records import InjectedFault

if TYPE_CHECKING:
    from spyagency.simulator.clock import SimClock
    from spyagency.simulator.world import World

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SERVICE_PREFIXES = (
    ("/t0wmadatasvc/", "t0"),
    ("/agg/api/", "oms"),
    ("/logs/dropBox/", "logs"),
    ("/dqm/offline/", "dqm"),
    ("/t0_reqmon/", "wmstats"),
)
BODY_FAULTS = (
    "malformed_json",
    "truncated_json",
    "legacy_quotes",
    "extra_fields",
    "missing_fields",
)
ROW_KEYS = ("result", "data", "contents")


class SimulatedConnectionReset(ConnectionResetError):
    """Raised mid-response so that the HTTP server drops the connection (a reset for clients)."""


def service_of(path: str) -> str | None:
    return next((name for prefix, name in SERVICE_PREFIXES if path.startswith(prefix)), None)


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode()
    headers = [(b"content-type", b"text/html"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _rows(document: Any) -> list[dict[str, Any]]:
    if not isinstance(document, dict):
        return []
    rows: list[dict[str, Any]] = []
    for key in ROW_KEYS:
        for row in document.get(key) or []:
            if isinstance(row, dict):
                rows.append(row)
    return rows


def transform_body(kind: str, body: bytes, rng: random.Random) -> bytes:
    """The body faults: broken syntax, legacy quoting, or shape drift in every row."""
    if kind == "truncated_json":
        return body[: max(1, len(body) // 2)]
    if kind == "malformed_json":
        return body.replace(b'{"', b"{", 1) + b","
    if kind == "legacy_quotes":
        return body.replace(b'"', b"'")
    try:
        document = json.loads(body)
    except ValueError:
        # Not JSON to begin with (the GUI's export error text, an answer already cut by a
        # read fault): there are no rows to drift, the body goes as it is.
        return body
    rows = _rows(document)
    if kind == "extra_fields":
        if isinstance(document, dict):
            document["sim_unexpected_top"] = {"note": "extra field"}
        for row in rows:
            row["sim_unexpected"] = rng.choice(("extra", 42, None, ["x"]))
    elif kind == "missing_fields":
        for row in rows:
            keys = sorted(row)
            if len(keys) > 1:
                row.pop(rng.choice(keys[1:]))
    return json.dumps(document).encode()


class FaultMiddleware:
    def __init__(self, app: ASGIApp, world: World, clock: SimClock) -> None:
        self.app = app
        self.world = world
        self.clock = clock
        self.rng = random.Random(world.scenario.seed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        now = self.clock.now()
        if self.world.due_by(now):
            # Materialising may write files and the CondDB: off the event loop.
            await anyio.to_thread.run_sync(self.world.advance_to, now)
        service = service_of(scope["path"])
        kind = self.world.faults.choose_http_fault(service, now) if service else None
        if kind == "legacy_quotes" and service != "dqm":
            kind = None  # only the legacy DQM GUI ever answered single-quoted JSON
        if kind is None:
            await self.app(scope, receive, send)
            return
        self.world.faults.note(InjectedFault(kind, now, service=service, detail=scope["path"]))
        await self._inject(kind, scope, receive, send)

    async def _inject(self, kind: str, scope: Scope, receive: Receive, send: Send) -> None:
        faults = self.world.faults
        if kind == "http_500":
            await _plain(send, 500, "<html><body>500 Internal Server Error</body></html>")
        elif kind in ("http_503", "service_down"):
            await _plain(send, 503, "<html><body>503 Service Unavailable</body></html>")
        elif kind in ("slow", "timeout"):
            await anyio.sleep(faults.slow_delay_s if kind == "slow" else faults.timeout_delay_s)
            await self.app(scope, receive, send)
        elif kind == "reset":
            start = {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
            }
            await send(start)
            await send({"type": "http.response.body", "body": b'{"result": [', "more_body": True})
            raise SimulatedConnectionReset("simulated connection reset")
        else:
            await self._rewrite(kind, scope, receive, send)

    async def _rewrite(self, kind: str, scope: Scope, receive: Receive, send: Send) -> None:
        captured: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        body = b"".join(chunks)
        if captured.get("status") == 200:
            body = transform_body(kind, body, self.rng)
        headers = [(k, v) for k, v in captured.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send(
            {
                "type": "http.response.start",
                "status": captured.get("status", 500),
                "headers": headers,
            }
        )
        await send({"type": "http.response.body", "body": body})
