"""Small hand-written upstream services for the spy tests, served in-process over ASGI.

Each fake keeps its world in plain attributes, answers in the public shapes (docs/protocols.md,
docs/protocols.md), supports ETag validators, and counts the requests it received.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from spyagency.spies.http import HttpSettings
from spyagency.spies.retry import RetryPolicy
from spyagency.spies.scope import SpyReport

FIXTURES = Path(__file__).parent / "fixtures"
RUN = re.compile(r"^[1-9][0-9]{1,6}$")
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text("utf-8")


def fixture_json(name: str) -> Any:
    return json.loads(fixture_text(name))


F = TypeVar("F")


def facts_of(report: SpyReport, kind: type[F]) -> list[F]:
    """The facts of one kind in a report, in report order."""
    return [o.fact for o in report.observations if isinstance(o.fact, kind)]


def fixed_clock() -> datetime:
    return NOW


async def no_sleep(seconds: float) -> None:
    return None


def fast_settings(attempts: int = 3, **kwargs: Any) -> HttpSettings:
    """Retries without waiting, so fault tests run instantly."""
    return HttpSettings(
        retry=RetryPolicy(attempts=attempts, sleep=no_sleep, jitter=lambda: 0.5), **kwargs
    )


def json_response(request: Request, body: Any, status: int = 200) -> Response:
    """A JSON answer with an ETag; a matching If-None-Match gets 304."""
    text = body if isinstance(body, str) else json.dumps(body)
    etag = '"' + hashlib.sha1(text.encode()).hexdigest() + '"'
    if status == 200 and request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    return Response(text, status_code=status, media_type="application/json", headers={"ETag": etag})


@dataclass
class Hits:
    paths: list[str] = field(default_factory=list)

    def count(self, fragment: str = "") -> int:
        return sum(1 for p in self.paths if fragment in p)


def asgi(app: Starlette) -> httpx2.ASGITransport:
    return httpx2.ASGITransport(app=app)


Handler = Callable[[Request], Awaitable[Response]]


def counting_app(routes: dict[str, Handler], hits: Hits) -> Starlette:
    def wrap(handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            hits.paths.append(str(request.url.path) + "?" + str(request.url.query))
            return await handler(request)

        return endpoint

    return Starlette(routes=[Route(path, wrap(h)) for path, h in routes.items()])


# ---------------------------------------------------------------- Tier-0 data service


@dataclass
class T0Run:
    acq_era: str = "Run2026A"
    # stream -> alca_skim comma list
    streams: dict[str, str] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)
    reco_datasets: tuple[str, ...] = ()
    prompt_gt: str = "150X_dataRun3_Prompt_v1"
    express_gt: str = "150X_dataRun3_Express_v1"


@dataclass
class FakeTier0:
    runs: dict[int, T0Run] = field(default_factory=dict)
    fcsr: int = 380000
    enabled: bool = True
    hits: Hits = field(default_factory=Hits)

    def _run(self, request: Request) -> int | Response:
        value = request.query_params.get("run", "")
        if not RUN.fullmatch(value):
            return Response("invalid run", status_code=400)
        return int(value)

    def app(self) -> Starlette:
        async def fcsr(request: Request) -> Response:
            return json_response(request, {"result": [self.fcsr]})

        async def status(request: Request) -> Response:
            return json_response(request, {"result": [self.enabled]})

        async def run_config(request: Request) -> Response:
            if "run" in request.query_params:
                run = self._run(request)
                if isinstance(run, Response):
                    return run
                wanted = [run] if run in self.runs else []
            else:
                wanted = sorted(self.runs)[-1:]  # as the real service: the latest run only
            rows = [{"run": r, "acq_era": self.runs[r].acq_era} for r in wanted]
            return json_response(request, {"result": rows})

        async def express_config(request: Request) -> Response:
            run = self._run(request)
            if isinstance(run, Response):
                return run
            info = self.runs.get(run)
            rows = (
                []
                if info is None
                else [
                    express_row(run, s, skim, info.express_gt) for s, skim in info.streams.items()
                ]
            )
            return json_response(request, {"result": rows})

        async def stream_done(request: Request) -> Response:
            run = self._run(request)
            if isinstance(run, Response):
                return run
            info = self.runs.get(run)
            stream = request.query_params.get("stream")
            return json_response(request, {"result": [info is not None and stream in info.done]})

        async def reco_config(request: Request) -> Response:
            if "run" not in request.query_params:
                # As the real service: the highest run it holds, i.e. the highest released.
                released = [r for r, i in self.runs.items() if i.reco_datasets]
                if not released:
                    return json_response(request, {"result": []})
                run: int | Response = max(released)
            else:
                run = self._run(request)
            if isinstance(run, Response):
                return run
            info = self.runs.get(run)
            rows = (
                []
                if info is None
                else [reco_row(run, d, info.prompt_gt) for d in info.reco_datasets]
            )
            return json_response(request, {"result": rows})

        base = "/t0wmadatasvc/prod/"
        return counting_app(
            {
                base + "firstconditionsaferun": fcsr,
                base + "promptreco_status": status,
                base + "run_config": run_config,
                base + "express_config": express_config,
                base + "run_stream_done": stream_done,
                base + "reco_config": reco_config,
            },
            self.hits,
        )


def express_row(run: int, stream: str, alca_skim: str, global_tag: str) -> dict[str, Any]:
    row = fixture_json("t0_express_config_row.json")
    row.update(run=run, stream=stream, alca_skim=alca_skim, global_tag=global_tag)
    return dict(row)


def reco_row(run: int, dataset: str, global_tag: str) -> dict[str, Any]:
    row = fixture_json("t0_reco_config_row.json")
    row.update(run=run, primary_dataset=dataset, global_tag=global_tag)
    return dict(row)


# ---------------------------------------------------------------- upload-service logs


@dataclass
class FakeUploadLogs:
    # sha1 -> fixture file name (its "HASH" placeholder is replaced by the sha1)
    logs: dict[str, str] = field(default_factory=dict)
    hits: Hits = field(default_factory=Hits)

    def app(self) -> Starlette:
        async def file_log(request: Request) -> Response:
            sha1 = request.query_params.get("fileHash", "")
            name = self.logs.get(sha1)
            if name is None:
                return Response("not found", status_code=404)
            return json_response(request, fixture_text(name).replace("HASH", sha1))

        return counting_app({"/logs/dropBox/getFileLog": file_log}, self.hits)


# ---------------------------------------------------------------- OMS


@dataclass
class FakeOms:
    runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    hits: Hits = field(default_factory=Hits)

    def add(self, run: int, **changes: Any) -> None:
        attributes = fixture_json("oms_run_attributes.json")
        attributes.update(run_number=run, **changes)
        self.runs[run] = attributes

    def app(self) -> Starlette:
        async def runs(request: Request) -> Response:
            q = request.query_params
            selected = sorted(self.runs, reverse=q.get("sort", "run_number").startswith("-"))
            if "filter[run_number][GE]" in q:
                selected = [r for r in selected if r >= int(q["filter[run_number][GE]"])]
            if "filter[run_number][LE]" in q:
                selected = [r for r in selected if r <= int(q["filter[run_number][LE]"])]
            offset, limit = int(q.get("page[offset]", 0)), min(int(q.get("page[limit]", 100)), 1000)
            page = selected[offset : offset + limit]
            body = {
                "data": [{"id": str(r), "type": "runs", "attributes": self.runs[r]} for r in page],
                "links": {"self": str(request.url)},
                "meta": {"totalResourceCount": len(selected)},
            }
            return json_response(request, body)

        return counting_app({"/agg/api/v1/runs": runs}, self.hits)


# ---------------------------------------------------------------- DQM GUI


@dataclass
class FakeDqm:
    # "<run>/<dataset without leading slash>/<folder>" -> fixture file name
    folders: dict[str, str] = field(default_factory=dict)
    hits: Hits = field(default_factory=Hits)

    def app(self) -> Starlette:
        async def archive(request: Request) -> Response:
            key = request.path_params["rest"]
            name = self.folders.get(key)
            body = fixture_text(name) if name else '{"contents": []}'
            return json_response(request, body)

        return counting_app({"/dqm/offline/data/json/archive/{rest:path}": archive}, self.hits)


# ---------------------------------------------------------------- WMStats


@dataclass
class FakeWmStats:
    cache: str = "wmstats_requestcache.json"
    # request name -> fixture file name
    details: dict[str, str] = field(default_factory=dict)
    hits: Hits = field(default_factory=Hits)

    def app(self) -> Starlette:
        async def cache(request: Request) -> Response:
            return json_response(request, fixture_text(self.cache))

        async def jobdetail(request: Request) -> Response:
            name = self.details.get(request.path_params["name"])
            return json_response(request, fixture_text(name) if name else '{"result": [{}]}')

        base = "/t0_reqmon/data/"
        return counting_app(
            {base + "requestcache": cache, base + "jobdetail/{name}": jobdetail}, self.hits
        )
