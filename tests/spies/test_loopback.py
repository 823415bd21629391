"""Real sockets: a uvicorn-served fake and raw servers that misbehave on the wire."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import uvicorn

from spyagency.domain.facts import ExpressConfig, FirstConditionSafeRun
from spyagency.spies.scope import PollScope, RunScope
from spyagency.spies.tier0 import T0DataServiceSpy
from tests.spies.fakes import NOW, FakeTier0, T0Run, fast_settings, fixed_clock


@asynccontextmanager
async def served(app: object) -> AsyncIterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off")  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


Conversation = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def raw_server(talk: Conversation) -> AsyncIterator[str]:
    server = await asyncio.start_server(talk, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


async def test_tier0_over_real_http() -> None:
    fake = FakeTier0(fcsr=380000)
    fake.runs[380000] = T0Run(streams={"Express": "PromptCalibProd"})
    async with served(fake.app()) as url:
        spy = T0DataServiceSpy(url + "/t0wmadatasvc/prod/", clock=fixed_clock)
        async with spy:
            report = await spy.poll(
                PollScope(now=NOW, runs=(RunScope(380000, False),), highest_known_run=380000)
            )
    assert report.errors == []
    facts = [o.fact for o in report.observations]
    assert FirstConditionSafeRun(380000) in facts
    assert any(isinstance(f, ExpressConfig) and f.run == 380000 for f in facts)


async def read_request(reader: asyncio.StreamReader) -> None:
    while (await reader.readline()) not in (b"\r\n", b""):
        pass


async def test_reset_truncated_and_refused_connections() -> None:
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.transport.abort()  # RST, no answer

    async def truncated(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b'Content-Length: 200\r\n\r\n{"result": [3800'
        )
        await writer.drain()
        writer.close()

    scope = PollScope(now=NOW)
    async with raw_server(reset) as reset_url, raw_server(truncated) as truncated_url:
        for url in (reset_url, truncated_url):
            spy = T0DataServiceSpy(url + "/", clock=fixed_clock, settings=fast_settings(attempts=2))
            async with spy:
                report = await spy.poll(scope)
            assert report.observations == []
            # fcsr, promptreco_status, run_config and reco_config (the latest release)
            assert len(report.errors) == 4
            assert all(e.message.startswith("connection failed") for e in report.errors)
            assert not any(e.permanent for e in report.errors)
            assert report.requests == 8
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    closed_port = probe.getsockname()[1]
    probe.close()
    spy = T0DataServiceSpy(
        f"http://127.0.0.1:{closed_port}/", clock=fixed_clock, settings=fast_settings(attempts=1)
    )
    async with spy:
        report = await spy.poll(scope)
    assert len(report.errors) == 4 and report.observations == []


async def test_a_server_that_never_answers_times_out() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await reader.read()  # say nothing until the client gives up
        writer.close()

    async with raw_server(silent) as url:
        settings = fast_settings(attempts=1, timeout=0.2, connect_timeout=0.2)
        spy = T0DataServiceSpy(url + "/", clock=fixed_clock, settings=settings)
        async with spy:
            report = await spy.poll(PollScope(now=NOW))
    assert len(report.errors) == 4
    assert all(e.message.startswith("timeout") for e in report.errors)
