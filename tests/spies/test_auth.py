"""OIDC tokens made out to an audience: the exchange, the one-step grant, and their refusals."""

from __future__ import annotations

from urllib.parse import parse_qs

import httpx2
import pytest
from fastapi import HTTPException

from spyagency.simulator.oidc import TOKEN_EXCHANGE_GRANT, ApiTokenIssuer
from spyagency.spies.auth import OidcClientCredentials, request_token
from spyagency.spies.failures import SourceFailure

SSO = "https://sso.test/auth/realms/cern/protocol/openid-connect/token"


def form_of(request: httpx2.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


async def test_a_refused_exchange_is_a_permanent_failure() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        if form_of(request)["grant_type"] == "client_credentials":
            return httpx2.Response(200, json={"access_token": "own", "expires_in": 60})
        return httpx2.Response(400, json={"error": "invalid_request"})

    auth = OidcClientCredentials(SSO, "c", "s", audience="cmsoms-prod", audience_mode="exchange")
    async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as client:
        with pytest.raises(SourceFailure) as caught:
            await request_token(client, auth)
    assert caught.value.permanent and "token exchange" in caught.value.message


async def test_the_exchanged_token_lifetime_is_kept() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        form = form_of(request)
        if form["grant_type"] == "client_credentials":
            assert "audience" not in form  # the audience goes to the exchange only
            return httpx2.Response(200, json={"access_token": "own", "expires_in": 600})
        assert form["subject_token"] == "own"
        return httpx2.Response(200, json={"access_token": "for-oms", "expires_in": 120})

    auth = OidcClientCredentials(SSO, "c", "s", audience="cmsoms-prod", audience_mode="exchange")
    async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as client:
        assert await request_token(client, auth) == ("for-oms", 120.0)


def test_the_simulated_sso_checks_client_and_subject_token() -> None:
    issuer = ApiTokenIssuer(clients={"spy": "pw"})
    with pytest.raises(HTTPException) as refused:
        issuer.grant({"grant_type": "client_credentials", "client_id": "spy"}, one_step=False)
    assert refused.value.status_code == 401
    own = issuer.grant(
        {"grant_type": "client_credentials", "client_id": "spy", "client_secret": "pw"},
        one_step=False,
    )["access_token"]
    assert issuer.audience_of(own) is None
    exchange = {
        "grant_type": TOKEN_EXCHANGE_GRANT,
        "client_id": "spy",
        "client_secret": "pw",
        "audience": "cmsoms-prod",
    }
    with pytest.raises(HTTPException):
        issuer.grant({**exchange, "subject_token": "forged"}, one_step=False)
    with pytest.raises(HTTPException):  # the exchange is not offered at the one-step endpoint
        issuer.grant({**exchange, "subject_token": own}, one_step=True)
    exchanged = issuer.grant({**exchange, "subject_token": own}, one_step=False)
    assert issuer.audience_of(exchanged["access_token"]) == "cmsoms-prod"
