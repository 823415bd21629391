"""The OMS spy and its CERN SSO authentication against answers shaped by the real producers.

``fixtures/oms/`` holds an OMS ``runs`` page (JSON:API) and the token endpoint's answers to
the client-credentials grant and to the token exchange, each opening with a header naming the
code that produces or reads that shape; the header is cut off before the answer is served.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs

import httpx2
from fastapi import FastAPI, Request

from spyagency.bootstrap import OMS_AUDIENCE, build_auth
from spyagency.config.settings import AuthSettings
from spyagency.domain.facts import RunInfo
from spyagency.simulator.http_oms import check_token
from spyagency.simulator.oidc import API_ACCESS_PATH, TOKEN_PATH, ApiTokenIssuer
from spyagency.spies.auth import OidcClientCredentials, audience_mode_for
from spyagency.spies.http import HttpFetcher
from spyagency.spies.oms import OmsRunsSpy
from spyagency.spies.scope import PollScope, RunScope
from tests.spies.fakes import NOW, facts_of, fast_settings, fixed_clock

FIXTURES = Path(__file__).parent / "fixtures" / "oms"
BASE = "https://cmsoms.test/agg/api/v1/"
SSO = "https://auth.test/auth/realms/cern/protocol/openid-connect/token"
ONE_STEP = "https://auth.test/auth/realms/cern/api-access/token"
EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"


def answer(name: str) -> str:
    lines = (FIXTURES / name).read_text(encoding="utf-8").splitlines(keepends=True)
    return "".join(line for line in lines if not line.startswith("#"))


async def test_runs_page_global_running_and_minidaq() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, text=answer("runs_page.txt"))

    spy = OmsRunsSpy(BASE, transport=httpx2.MockTransport(handler), clock=fixed_clock)
    scope = PollScope(now=NOW, runs=(RunScope(380000, stopped=True),), highest_known_run=379999)
    async with spy:
        report = await spy.poll(scope)
    assert report.errors == []
    runs = {f.run: f for f in facts_of(report, RunInfo)}
    assert sorted(runs) == [380000, 380002]  # the MiniDAQ run 380001 is not the agency's
    ended, running = runs[380000], runs[380002]
    assert ended.stop == datetime(2026, 5, 31, 22, 1, 40, tzinfo=UTC)
    assert (ended.sequence, ended.tier0_transfer, ended.run_class) == ("GLOBAL-RUN", True, None)
    assert ended.fill == 10650 and ended.b_field == 3.8 and ended.stable_beam is True
    assert "PIXEL" in ended.components and "TRACKER" in ended.components
    assert running.stop is None and running.start == datetime(2026, 5, 31, 22, 25, 40, tzinfo=UTC)


async def test_token_exchange_for_cmsoms_prod() -> None:
    """What omsapi's auth_oidc_req does: client credentials, then the exchange; OMS is then
    asked with the exchanged token only."""
    posts: list[dict[str, str]] = []
    seen_tokens: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.host == "auth.test":
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            posts.append(form)
            name = (
                "token_exchanged.txt"
                if form["grant_type"] == EXCHANGE_GRANT
                else "token_client_credentials.txt"
            )
            return httpx2.Response(200, text=answer(name))
        seen_tokens.append(request.headers["Authorization"])
        return httpx2.Response(200, text=answer("runs_page.txt"))

    auth = build_auth(
        AuthSettings(kind="oidc", token_url=SSO, client_id="spyagency", client_secret="s3"),
        OMS_AUDIENCE,
    )
    assert isinstance(auth, OidcClientCredentials) and auth.audience_mode == "exchange"
    http = HttpFetcher(BASE, auth=auth, transport=httpx2.MockTransport(handler))
    assert await http.get_json("runs") is not None
    await http.aclose()
    grant, exchange = posts
    assert grant == {
        "grant_type": "client_credentials",
        "client_id": "spyagency",
        "client_secret": "s3",
    }
    assert exchange["grant_type"] == EXCHANGE_GRANT
    assert exchange["subject_token"] == "eyJ.client-own.sig"
    assert exchange["audience"] == "cmsoms-prod"
    assert exchange["requested_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    assert seen_tokens == ["Bearer eyJ.cmsoms-prod.sig"]


def test_the_one_step_endpoint_takes_the_audience_in_the_grant() -> None:
    assert audience_mode_for(ONE_STEP) == "one_step"
    assert audience_mode_for(SSO) == "exchange"
    auth = build_auth(
        AuthSettings(kind="oidc", token_url=ONE_STEP, client_id="c", client_secret="s"),
        OMS_AUDIENCE,
    )
    assert isinstance(auth, OidcClientCredentials)
    assert auth.form()["audience"] == "cmsoms-prod" and not auth.exchanges


def simulated_sso_and_oms() -> httpx2.ASGITransport:
    """The simulator's SSO and its OMS audience check, served in process."""
    issuer = ApiTokenIssuer()
    app = FastAPI()
    app.include_router(issuer.router())

    @app.get("/agg/api/v1/runs")
    async def runs(request: Request) -> dict[str, object]:
        check_token(request, issuer)
        return {"data": [], "links": {}, "meta": {"totalResourceCount": 0}}

    return httpx2.ASGITransport(app=app)


async def _runs_with(auth: OidcClientCredentials) -> int:
    spy = OmsRunsSpy(
        "http://sim/agg/api/v1/",
        transport=simulated_sso_and_oms(),
        clock=fixed_clock,
        auth=auth,
        settings=fast_settings(attempts=1),
    )
    async with spy:
        report = await spy.poll(PollScope(now=NOW, highest_known_run=380000))
    return len(report.source_errors)


async def test_the_simulated_oms_refuses_a_token_without_its_audience() -> None:
    plain = OidcClientCredentials("http://sim" + TOKEN_PATH, "spy", "pw")
    exchanged = OidcClientCredentials(
        "http://sim" + TOKEN_PATH, "spy", "pw", audience="cmsoms-prod", audience_mode="exchange"
    )
    one_step = OidcClientCredentials(
        "http://sim" + API_ACCESS_PATH, "spy", "pw", audience="cmsoms-prod"
    )
    # An audience on the standard endpoint's client-credentials grant is ignored (Keycloak).
    ignored = OidcClientCredentials(
        "http://sim" + TOKEN_PATH, "spy", "pw", audience="cmsoms-prod", audience_mode="one_step"
    )
    assert await _runs_with(plain) == 1
    assert await _runs_with(ignored) == 1
    assert await _runs_with(exchanged) == 0
    assert await _runs_with(one_step) == 0
