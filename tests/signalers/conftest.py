"""Real local servers for the channel tests: uvicorn for HTTP, aiosmtpd for SMTP.

No mocking library: every channel talks over a real socket to a receiver that checks what a
real Tier-0, Alertmanager or chat server would check, and that can be told to answer badly.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest
import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from fastapi import FastAPI, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, StrictStr, TypeAdapter, ValidationError

from spyagency.signalers.signing import SIGNATURE_HEADER, verify

WEBHOOK_SECRET = b"test-shared-secret"
SMTP_USER = "pcl"
SMTP_PASSWORD = "calibrate"


def free_port() -> int:
    """A loopback port nobody listens on (right now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port; yields its base URL.

    The socket is bound before the server starts, so there is no race for the port.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        lifespan="off",
        ws="none",
        http="h11",
        log_config=None,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@dataclass
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any


class PostableAlert(BaseModel):
    """Alertmanager's v2 ``PostableAlert``, strict: unknown fields are a client bug."""

    model_config = ConfigDict(extra="forbid")

    labels: dict[str, StrictStr]
    annotations: dict[str, StrictStr] = {}
    startsAt: AwareDatetime
    endsAt: AwareDatetime | None = None
    generatorURL: str | None = None


@dataclass
class Receiver:
    """What the HTTP receiver accepted, and how it should answer the next requests."""

    base_url: str = ""
    secret: bytes = WEBHOOK_SECRET
    accepted: list[ReceivedRequest] = field(default_factory=list)
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    # Bumped by reset(): a slow request from an earlier test must not land in a later one.
    generation: int = 0

    def answer(
        self, status: int = 200, *, delay: float = 0.0, headers: Mapping[str, str] | None = None
    ) -> None:
        self.status, self.delay, self.headers = status, delay, dict(headers or {})

    def reset(self) -> None:
        self.generation += 1
        self.accepted.clear()
        self.answer()

    def url(self, path: str) -> str:
        return self.base_url + path


def receiver_app(receiver: Receiver) -> FastAPI:
    """Tier-0 readiness receiver, Alertmanager v2 and a chat webhook in one app."""
    app = FastAPI()
    alerts = TypeAdapter(list[PostableAlert])

    async def misbehave() -> Response | None:
        # Decide from the behaviour set when the request came in, not when it wakes up.
        generation, status, headers = receiver.generation, receiver.status, receiver.headers
        if receiver.delay:
            await asyncio.sleep(receiver.delay)
        if generation != receiver.generation:
            return Response("late: the test that sent this is over", status_code=410)
        if status != 200:
            return Response("told to fail", status_code=status, headers=headers)
        return None

    def accept(request: Request, body: bytes) -> Response:
        receiver.accepted.append(
            ReceivedRequest(request.url.path, dict(request.headers), body, json.loads(body))
        )
        return Response(status_code=200)

    @app.post("/tier0/readiness")
    async def readiness(request: Request) -> Response:
        body = await request.body()
        if not verify(receiver.secret, body, request.headers.get(SIGNATURE_HEADER)):
            return Response("bad signature", status_code=401)
        if not request.headers.get("Idempotency-Key"):
            return Response("missing Idempotency-Key", status_code=400)
        return await misbehave() or accept(request, body)

    @app.post("/api/v2/alerts")
    async def post_alerts(request: Request) -> Response:
        body = await request.body()
        try:
            posted = alerts.validate_json(body)
        except ValidationError as exc:
            return Response(str(exc), status_code=400)
        for alert in posted:
            if "alertname" not in alert.labels:
                return Response("alertname label missing", status_code=400)
            if alert.endsAt is not None and alert.endsAt < alert.startsAt:
                return Response("start time must be before end time", status_code=400)
        return await misbehave() or accept(request, body)

    @app.post("/hooks/chat")
    async def chat(request: Request) -> Response:
        body = await request.body()
        try:
            text = TypeAdapter(dict[str, str]).validate_json(body)["text"]
        except (ValidationError, KeyError):
            return Response("text required", status_code=400)
        if not text.strip():
            return Response("empty text", status_code=400)
        return await misbehave() or accept(request, body)

    return app


@pytest.fixture(scope="session")
def _receiver_server() -> Iterator[Receiver]:
    receiver = Receiver()
    with serve_in_thread(receiver_app(receiver)) as base_url:
        receiver.base_url = base_url
        yield receiver


@pytest.fixture
def receiver(_receiver_server: Receiver) -> Iterator[Receiver]:
    """The HTTP receiver, answering 200 and with nothing recorded."""
    _receiver_server.reset()
    yield _receiver_server
    _receiver_server.reset()


@pytest.fixture
async def http_client() -> AsyncIterator[httpx2.AsyncClient]:
    """A client with short timeouts, so the "slow server" tests stay fast."""
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(0.5)) as client:
        yield client


@pytest.fixture
def closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


@dataclass
class ReceivedMail:
    sender: str
    recipients: list[str]
    content: bytes


@dataclass
class MailSink:
    """An aiosmtpd handler that keeps messages, or refuses the way it is told to."""

    messages: list[ReceivedMail] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # address -> RCPT reply
    data_reply: str | None = None
    data_delay: float = 0.0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        if self.data_reply:
            return self.data_reply
        self.messages.append(
            ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
        )
        return "250 Message accepted for delivery"


def _authenticate(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == SMTP_USER.encode()
        and auth_data.password == SMTP_PASSWORD.encode()
    )
    # handled=False: let aiosmtpd answer 535 itself rather than stay silent.
    return AuthResult(success=ok, handled=False)


@dataclass
class SmtpServer:
    host: str
    port: int
    sink: MailSink


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server on loopback (AUTH offered without TLS, as a test server may)."""
    sink = MailSink()
    controller = Controller(
        sink,
        hostname="127.0.0.1",
        port=free_port(),
        server_hostname="smtp.test",
        ready_timeout=5,
        authenticator=_authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", controller.port, sink)
    finally:
        controller.stop()
