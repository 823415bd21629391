"""The one HTTP path every web spy uses: timeouts, retries, validators, auth, counting.

``get_json`` either returns a parsed document or raises ``SourceFailure`` carrying the raw
text and the URL; callers never see an ``httpx2`` exception.
"""

from __future__ import annotations

import asyncio
import email.utils
import re
import ssl
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx2

from spyagency.spies.auth import (
    Auth,
    BearerToken,
    ClientCertificate,
    NoAuth,
    OidcClientCredentials,
    TokenCache,
    request_token,
)
from spyagency.spies.documents import JsonReader, loads_strict
from spyagency.spies.failures import SchemaViolation, SourceFailure, is_permanent_status
from spyagency.spies.retry import RetryPolicy

Params = Mapping[str, str | int]


@dataclass(frozen=True)
class HttpSettings:
    timeout: float = 10.0
    connect_timeout: float = 5.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # Concurrent requests of one spy: enough to overlap latency, gentle on cmsweb.
    max_concurrency: int = 8
    conditional: bool = True
    # Validators remembered per URL; old runs' URLs fall out first.
    cache_entries: int = 4096
    max_body_bytes: int = 32 * 1024 * 1024
    user_agent: str = "spy-agency"


@dataclass(frozen=True)
class JsonDocument:
    url: str
    status: int
    body: Any
    text: str
    not_modified: bool = False


@dataclass(frozen=True)
class _Validators:
    etag: str | None
    last_modified: str | None
    document: JsonDocument


def _retry_after(headers: httpx2.Headers) -> float | None:
    value = headers.get("Retry-After")
    if value is None:
        return None
    if re.fullmatch(r"[0-9]+(\.[0-9]+)?", value.strip()):
        return float(value.strip())
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - datetime.now(UTC)).total_seconds()


class _Attempt(Exception):
    """One failed attempt; ``retryable`` says whether another attempt may help."""

    def __init__(
        self, failure: SourceFailure, retryable: bool, retry_after: float | None = None
    ) -> None:
        super().__init__(failure.message)
        self.failure = failure
        self.retryable = retryable
        self.retry_after = retry_after


class HttpFetcher:
    """GETs JSON documents below ``base_url`` for one spy."""

    def __init__(
        self,
        base_url: str,
        *,
        settings: HttpSettings | None = None,
        auth: Auth | None = None,
        client: httpx2.AsyncClient | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        token_cache: TokenCache | None = None,
    ) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.settings = settings or HttpSettings()
        self.auth: Auth = auth or NoAuth()
        self._client = client
        self._owns_client = client is None
        self._transport = transport
        self._tokens = token_cache or TokenCache()
        self._token_lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(self.settings.max_concurrency)
        self._validators: OrderedDict[str, _Validators] = OrderedDict()
        self.request_count = 0

    def url(self, path: str) -> str:
        return self.base_url + path.lstrip("/")

    def _make_client(self) -> httpx2.AsyncClient:
        if self._client is None:
            verify: ssl.SSLContext | bool = True
            if isinstance(self.auth, ClientCertificate):
                verify = self.auth.ssl_context()
            self._client = httpx2.AsyncClient(
                timeout=httpx2.Timeout(
                    self.settings.timeout, connect=self.settings.connect_timeout
                ),
                transport=self._transport,
                verify=verify,
                headers={"User-Agent": self.settings.user_agent, "Accept": "application/json"},
            )
        return self._client

    async def aclose(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def get_json(
        self,
        path: str,
        params: Params | None = None,
        *,
        reader: JsonReader = loads_strict,
        absent_on_404: bool = False,
    ) -> JsonDocument | None:
        """The parsed answer; ``None`` for a 404 when ``absent_on_404`` (not seen yet)."""
        url = self.url(path)
        try:
            client = self._make_client()
            request = client.build_request("GET", url, params=params)
        except (OSError, ValueError, httpx2.HTTPError) as bad:
            raise SourceFailure(f"cannot build request: {bad}", url=url, permanent=True) from None
        policy = self.settings.retry
        last: _Attempt | None = None
        for attempt in range(1, max(1, policy.attempts) + 1):
            if last is not None:
                await policy.sleep(policy.delay(attempt - 1, last.retry_after))
            try:
                return await self._attempt(client, request, reader, absent_on_404)
            except _Attempt as failed:
                last = failed
                if not failed.retryable:
                    break
        assert last is not None
        raise last.failure

    async def _attempt(
        self,
        client: httpx2.AsyncClient,
        request: httpx2.Request,
        reader: JsonReader,
        absent_on_404: bool,
    ) -> JsonDocument | None:
        url = str(request.url)
        headers = await self._auth_headers(client, url)
        cached = self._validators.get(url) if self.settings.conditional else None
        if cached is not None:
            if cached.etag:
                headers["If-None-Match"] = cached.etag
            if cached.last_modified:
                headers["If-Modified-Since"] = cached.last_modified
        status, response_headers, text = await self._send(client, request, headers)
        if status == 304 and cached is not None:
            self._validators.move_to_end(url)
            return JsonDocument(url, 304, cached.document.body, cached.document.text, True)
        if status == 401 and isinstance(self.auth, OidcClientCredentials):
            # The token may have been revoked early: forget it so the retry fetches a new one.
            self._tokens.clear()
            failure = SourceFailure("HTTP 401 (token refused)", raw=text, url=url)
            raise _Attempt(failure, retryable=True)
        if status == 404 and absent_on_404:
            return None
        if status >= 300:
            # Redirects are not followed: cmsweb redirects mean a login page, not data.
            permanent = is_permanent_status(status) or status < 400
            failure = SourceFailure(f"HTTP {status}", raw=text, url=url, permanent=permanent)
            raise _Attempt(failure, not permanent, _retry_after(response_headers))
        try:
            body = reader(text)
        except SchemaViolation as bad:
            raise _Attempt(SourceFailure(bad.message, raw=text, url=url), False) from None
        document = JsonDocument(url, status, body, text)
        self._remember(url, response_headers, document)
        return document

    async def _send(
        self, client: httpx2.AsyncClient, request: httpx2.Request, headers: dict[str, str]
    ) -> tuple[int, httpx2.Headers, str]:
        url = str(request.url)
        # The request built once is sent as is (a copy only when this attempt adds headers):
        # building it again, as ``client.stream`` does, parses and merges the URL and headers
        # anew, which cost as much as the rest of an in-process request.
        if headers:
            request = httpx2.Request(
                request.method,
                request.url,
                headers={**request.headers, **headers},
                extensions=request.extensions,
            )
        async with self._slots:
            self.request_count += 1
            try:
                response = await client.send(request, stream=True)
                try:
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        body.extend(chunk)
                        if len(body) > self.settings.max_body_bytes:
                            failure = SourceFailure("answer too large", url=url)
                            raise _Attempt(failure, retryable=False)
                    status, response_headers = response.status_code, response.headers
                finally:
                    await response.aclose()
            except httpx2.TimeoutException as bad:
                raise _Attempt(SourceFailure(f"timeout: {bad!r}", url=url), True) from None
            except httpx2.TransportError as bad:
                failure = SourceFailure(f"connection failed: {bad!r}", url=url)
                raise _Attempt(failure, retryable=True) from None
            except httpx2.HTTPError as bad:
                failure = SourceFailure(f"HTTP failure: {bad!r}", url=url)
                raise _Attempt(failure, retryable=False) from None
        try:
            text = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            text = bytes(body).decode("utf-8", errors="replace")
            if status < 400:
                failure = SourceFailure("answer is not UTF-8 text", raw=text, url=url)
                raise _Attempt(failure, retryable=False) from None
        return status, response_headers, text

    def _remember(self, url: str, headers: httpx2.Headers, document: JsonDocument) -> None:
        if not self.settings.conditional:
            return
        etag, modified = headers.get("ETag"), headers.get("Last-Modified")
        if etag is None and modified is None:
            self._validators.pop(url, None)
            return
        self._validators[url] = _Validators(etag, modified, document)
        self._validators.move_to_end(url)
        while len(self._validators) > self.settings.cache_entries:
            self._validators.popitem(last=False)

    async def _auth_headers(self, client: httpx2.AsyncClient, url: str) -> dict[str, str]:
        auth = self.auth
        if isinstance(auth, BearerToken):
            return {"Authorization": f"Bearer {auth.token}"}
        if isinstance(auth, OidcClientCredentials):
            return {"Authorization": f"Bearer {await self._oidc_token(client, auth)}"}
        return {}

    async def _oidc_token(self, client: httpx2.AsyncClient, auth: OidcClientCredentials) -> str:
        async with self._token_lock:  # one token request even when many requests wait
            token = self._tokens.get()
            if token is not None:
                return token
            self.request_count += 1
            try:
                token, expires_in = await request_token(client, auth)
            except SourceFailure as failure:
                raise _Attempt(failure, retryable=not failure.permanent) from None
            self._tokens.put(token, expires_in, auth.refresh_margin)
            return token
