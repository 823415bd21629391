"""How a spy proves who it is to an upstream service.

One configuration type per scheme. The OIDC client-credentials token is fetched with the
spy's own HTTP client and kept until shortly before it expires.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

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


@dataclass(frozen=True)
class OidcClientCredentials:
    """OAuth2 client-credentials grant (CERN SSO for OMS)."""

    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scope: str | None = None
    audience: str | None = None
    # Renew this many seconds before expiry so a token never dies in flight.
    refresh_margin: float = 30.0

    def form(self) -> dict[str, str]:
        body = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }
        if self.scope:
            body["scope"] = self.scope
        if self.audience:
            body["audience"] = self.audience
        return body


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
    when the identity provider refuses the client: retrying cannot help)."""
    url = auth.token_url
    try:
        response = await client.post(url, data=auth.form())
    except httpx2.TimeoutException as bad:
        raise SourceFailure(f"token timeout: {bad!r}", url=url) from None
    except httpx2.HTTPError as bad:
        raise SourceFailure(f"token request failed: {bad!r}", url=url) from None
    text = response.text
    status = response.status_code
    if status >= 400:
        message = f"token endpoint answered HTTP {status}"
        raise SourceFailure(message, raw=text, url=url, permanent=is_permanent_status(status))
    try:
        answer = loads_strict(text)
        token = answer.get("access_token") if isinstance(answer, dict) else None
        expires_in = answer.get("expires_in", 300) if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token or not isinstance(expires_in, int | float):
            raise SchemaViolation("token answer without a usable access_token")
    except SchemaViolation:
        raise SourceFailure("unusable token answer", raw=text, url=url, permanent=True) from None
    return token, float(expires_in)
