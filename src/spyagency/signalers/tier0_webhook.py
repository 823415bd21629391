"""The push half of the agency's readiness contract: tell the Tier-0 that a run is ready.

Each readiness signal is ``POST``ed as canonical JSON to the Tier-0's URL with
``Content-Type: application/json``, ``Idempotency-Key: <key>`` and
``X-SpyAgency-Signature: sha256=<hex HMAC-SHA256 of the raw body>`` (docs/protocols.md,
"The agency's readiness contract"). The signal payload the engine puts in the outbox is the
object the readiness API also serves::

    {"run": 362000, "verdict": "ready", "idempotency_key": "ready:362000:3",
     "decided_at": "2026-11-02T10:00:00+00:00", "evidence_url": "https://agency/runs/362000"}

It is sent unchanged: the channel neither reorders nor filters, the engine decides.

The answer is classified once for every HTTP channel (:class:`JsonPoster`): 2xx is
delivered; 408, 429, 5xx, timeouts and connection errors are worth another try; any other
answer is permanent, as is a channel without URL or secret.

>>> import asyncio
>>> from datetime import UTC, datetime
>>> from spyagency.signalers.channel import OutboundMessage
>>> webhook = ReadinessWebhook(url=None, secret=b"s3cret")
>>> message = OutboundMessage(
...     id=1, channel="tier0_webhook", kind="signal", idempotency_key="ready:362000:1",
...     payload={"run": 362000, "verdict": "ready"}, created_at=datetime.now(UTC))
>>> asyncio.run(webhook.send(message)).outcome
<Delivery.PERMANENT: 'permanent'>
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import httpx2

from spyagency.signalers.channel import Delivery, DeliveryResult, OutboundMessage
from spyagency.signalers.signing import SIGNATURE_HEADER, as_secret, canonical_json, sign

DEFAULT_TIMEOUT_SECONDS = 10.0
# Enough of an error body to tell "wrong token" from "wrong URL", not enough to flood a log.
_BODY_EXCERPT = 200


def default_user_agent() -> str:
    """``spyagency/<version>``, so receivers can tell which release is talking to them."""
    try:
        version = metadata.version("spyagency")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return f"spyagency/{version}"


def classify_status(status_code: int) -> Delivery:
    """What an HTTP status means for the outbox.

    >>> [classify_status(code).value for code in (204, 429, 503, 404)]
    ['delivered', 'transient', 'transient', 'permanent']
    """
    if 200 <= status_code < 300:
        return Delivery.DELIVERED
    if status_code in (408, 429) or status_code >= 500:
        return Delivery.TRANSIENT
    # Redirects land here too: a webhook that moved must be reconfigured, not chased blindly
    # (following a redirect would turn the POST into a GET on most servers).
    return Delivery.PERMANENT


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A ``Retry-After`` header as seconds from now (it may be a number or an HTTP date).

    >>> retry_after_seconds("120")
    120.0
    >>> retry_after_seconds("soon") is None
    True
    """
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def result_from_response(response: httpx2.Response) -> DeliveryResult:
    """Turn an HTTP answer into a :class:`DeliveryResult`, keeping what helps an operator."""
    outcome = classify_status(response.status_code)
    detail = f"HTTP {response.status_code}"
    excerpt = response.text.strip()[:_BODY_EXCERPT]
    if outcome is not Delivery.DELIVERED and excerpt:
        detail = f"{detail}: {excerpt}"
    extra: dict[str, Any] = {}
    retry_after = retry_after_seconds(response.headers.get("Retry-After"))
    if retry_after is not None:
        extra["retry_after_seconds"] = retry_after
    return DeliveryResult(outcome, detail, response.status_code, extra)


class JsonPoster:
    """POSTs a JSON body and classifies the answer; the HTTP core of every webhook channel.

    It uses the injected client (the caller closes that one) or creates its own on first use,
    with explicit timeouts, and closes it in :meth:`aclose`. Details never repeat the URL:
    chat webhook URLs carry their token in the path.

    >>> poster = JsonPoster(timeout=5.0)
    >>> poster.user_agent.startswith("spyagency/")
    True
    """

    def __init__(
        self,
        *,
        client: httpx2.AsyncClient | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        user_agent: str | None = None,
    ) -> None:
        self._client = client
        self._owns_client = client is None
        self._timeout = timeout
        self.user_agent = user_agent or default_user_agent()

    def _http(self) -> httpx2.AsyncClient:
        if self._client is None:
            self._client = httpx2.AsyncClient(
                timeout=httpx2.Timeout(self._timeout), follow_redirects=False
            )
        return self._client

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str] | None = None
    ) -> DeliveryResult:
        """Send ``body``; never raises (cancellation aside), every failure is a result."""
        all_headers = {"Content-Type": "application/json", "User-Agent": self.user_agent}
        all_headers.update(headers or {})
        try:
            response = await self._http().post(url, content=body, headers=all_headers)
        except httpx2.TimeoutException as exc:
            return DeliveryResult(Delivery.TRANSIENT, f"timed out ({type(exc).__name__})")
        except (httpx2.UnsupportedProtocol, httpx2.LocalProtocolError, httpx2.InvalidURL) as exc:
            # The request cannot be made at all: retrying the same URL will not help.
            return DeliveryResult(Delivery.PERMANENT, f"bad request or URL: {exc}")
        except httpx2.TransportError as exc:
            return DeliveryResult(Delivery.TRANSIENT, f"connection failed: {exc!r}")
        except Exception as exc:
            # Unknown failures are retried: the outbox caps attempts, a lost signal is worse.
            return DeliveryResult(Delivery.TRANSIENT, f"unexpected error: {exc!r}")
        return result_from_response(response)

    async def aclose(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None


@dataclass(frozen=True)
class ReadinessSignal:
    """The fields of a readiness signal payload that other channels show to people.

    >>> ReadinessSignal.from_payload({"run": 362000, "verdict": "ready"}).run
    362000
    """

    run: int
    verdict: str = "ready"
    decided_at: str | None = None
    evidence_url: str | None = None

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], run: int | None = None) -> ReadinessSignal:
        """Read a signal payload; ``run`` is the outbox row's run, used if the payload has none.

        Raises ``ValueError`` when no run number can be found.
        """
        raw_run = payload.get("run", run)
        if isinstance(raw_run, bool) or not isinstance(raw_run, int | str):
            raise ValueError(f"signal payload has no run number: {raw_run!r}")
        try:
            number = int(raw_run)
        except ValueError:
            raise ValueError(f"signal payload has no run number: {raw_run!r}") from None
        evidence = payload.get("evidence_url")
        decided = payload.get("decided_at")
        return cls(
            run=number,
            verdict=str(payload.get("verdict", "ready")),
            decided_at=str(decided) if decided is not None else None,
            evidence_url=str(evidence) if evidence else None,
        )


class ReadinessWebhook:
    """Channel ``tier0_webhook``: signed, idempotent POST of each readiness signal.

    >>> webhook = ReadinessWebhook("https://tier0.example/readiness", secret="shared")
    >>> webhook.name
    'tier0_webhook'
    """

    def __init__(
        self,
        url: str | None,
        secret: bytes | str | None,
        *,
        client: httpx2.AsyncClient | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        user_agent: str | None = None,
        name: str = "tier0_webhook",
    ) -> None:
        self.name = name
        self._url = url
        self._secret = as_secret(secret) if secret else b""
        self._poster = JsonPoster(client=client, timeout=timeout, user_agent=user_agent)

    async def send(self, message: OutboundMessage) -> DeliveryResult:
        if not self._url:
            return DeliveryResult(Delivery.PERMANENT, "tier0_webhook: no URL configured")
        if not self._secret:
            # Fail closed: the Tier-0 must be able to prove a signal came from the agency.
            return DeliveryResult(Delivery.PERMANENT, "tier0_webhook: no shared secret configured")
        if message.kind != "signal":
            return DeliveryResult(
                Delivery.PERMANENT, f"tier0_webhook carries readiness signals, not {message.kind!r}"
            )
        key = message.idempotency_key
        if not key or not (key.isascii() and key.isprintable()):
            return DeliveryResult(
                Delivery.PERMANENT, f"idempotency key cannot be an HTTP header: {key!r}"
            )
        try:
            body = canonical_json(message.payload)
        except (TypeError, ValueError) as exc:
            return DeliveryResult(Delivery.PERMANENT, f"payload is not JSON: {exc}")
        headers = {
            "Idempotency-Key": key,
            SIGNATURE_HEADER: sign(self._secret, body),
        }
        return await self._poster.post(self._url, body, headers)

    async def aclose(self) -> None:
        await self._poster.aclose()
