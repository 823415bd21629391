"""How a spy proves who it is to an upstream service.

One configuration type per scheme. The OIDC token is fetched with the spy's own HTTP client
and kept until shortly before it expires.

An API behind CERN SSO (OMS: audience ``cmsoms-prod``) refuses a token that was not issued
for it. The official OMS client (``omsapi``, ``OMSAPIOAuth.auth_oidc_req``) gets one in two
steps from ``.../protocol/openid-connect/token``: a client-credentials grant, then a token
exchange (RFC 8693) of that token for the audience. CERN's ``.../api-access/token`` endpoint
does both at once: a client-credentials grant that names the audience.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx2

from spyagency.spies.documents import loads_strict
from spyagency.spies.failures import SchemaViolation, SourceFailure, is_permanent_status


@dataclass(frozen=True)
class NoAuth:
    """Public endpoints (and the simulator)."""


@dataclass(frozen=True)
class BearerToken:
    token: str = field(repr=False)


@dataclass(frozen=True)
class ClientCertificate:
    """A grid/user certificate, as cmsweb services expect."""

    cert: Path
    key: Path | None = None
    ca_bundle: Path | None = None

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca_bundle) if self.ca_bundle else None)
        context.load_cert_chain(str(self.cert), str(self.key) if self.key else None)
        return context


TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 (a URN)
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105 (a URN)
# CERN's one-step endpoint: the client-credentials grant there takes the audience itself.
ONE_STEP_PATH = "/api-access/token"

AudienceMode = Literal["exchange", "one_step"]


def audience_mode_for(token_url: str) -> AudienceMode:
    """How to get a token for an audience from ``token_url`` when the setting does not say:
    in one step from CERN's ``api-access/token``, by a token exchange anywhere else (the
    standard OIDC token endpoint, as the official OMS client does)."""
    path = token_url.split("?", 1)[0].rstrip("/")
    return "one_step" if path.endswith(ONE_STEP_PATH) else "exchange"


@dataclass(frozen=True)
class OidcClientCredentials:
    """OAuth2 client-credentials grant (CERN SSO), with the token made out for ``audience``
    either by a token exchange or in one step (``audience_mode``)."""

    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scope: str | None = None
    audience: str | None = None
    # Renew this many seconds before expiry so a token never dies in flight.
    refresh_margin: float = 30.0
    audience_mode: AudienceMode = "one_step"

    @property
    def exchanges(self) -> bool:
        return self.audience is not None and self.audience_mode == "exchange"

    def form(self) -> dict[str, str]:
        """The client-credentials grant (with the audience when given in one step)."""
        body = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }
        if self.scope:
            body["scope"] = self.scope
        if self.audience and not self.exchanges:
            body["audience"] = self.audience
        return body

    def exchange_form(self, subject_token: str) -> dict[str, str]:
        """The token exchange of the client's own token for one made out to ``audience``."""
        assert self.audience is not None
        return {
            "grant_type": TOKEN_EXCHANGE_GRANT,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "subject_token": subject_token,
            "subject_token_type": ACCESS_TOKEN_TYPE,
            "requested_token_type": ACCESS_TOKEN_TYPE,
            "audience": self.audience,
        }


Auth = NoAuth | BearerToken | ClientCertificate | OidcClientCredentials


class TokenCache:
    """One bearer token and the monotonic time after which it must be renewed."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._token: str | None = None
        self._renew_after = 0.0

    def get(self) -> str | None:
        if self._token is not None and self._monotonic() < self._renew_after:
            return self._token
        return None

    def put(self, token: str, expires_in: float, margin: float) -> None:
        self._token = token
        self._renew_after = self._monotonic() + max(0.0, expires_in - margin)

    def clear(self) -> None:
        self._token = None


async def request_token(
    client: httpx2.AsyncClient, auth: OidcClientCredentials
) -> tuple[str, float]:
    """The access token and its lifetime in seconds; ``SourceFailure`` otherwise (permanent
    when the identity provider refuses the client: retrying cannot help). With a token
    exchange, the lifetime is the exchanged token's."""
    token, expires_in = await _grant(client, auth.token_url, auth.form(), "token")
    if auth.exchanges:
        form = auth.exchange_form(token)
        token, expires_in = await _grant(client, auth.token_url, form, "token exchange")
    return token, expires_in


async def _grant(
    client: httpx2.AsyncClient, url: str, form: dict[str, str], what: str
) -> tuple[str, float]:
    try:
        response = await client.post(url, data=form)
    except httpx2.TimeoutException as bad:
        raise SourceFailure(f"{what} timeout: {bad!r}", url=url) from None
    except httpx2.HTTPError as bad:
        raise SourceFailure(f"{what} request failed: {bad!r}", url=url) from None
    text = response.text
    status = response.status_code
    if status >= 400:
        message = f"{what} endpoint answered HTTP {status}"
        raise SourceFailure(message, raw=text, url=url, permanent=is_permanent_status(status))
    try:
        answer = loads_strict(text)
        token = answer.get("access_token") if isinstance(answer, dict) else None
        expires_in = answer.get("expires_in", 300) if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token or not isinstance(expires_in, int | float):
            raise SchemaViolation("token answer without a usable access_token")
    except SchemaViolation:
        raise SourceFailure(f"unusable {what} answer", raw=text, url=url, permanent=True) from None
    return token, float(expires_in)
