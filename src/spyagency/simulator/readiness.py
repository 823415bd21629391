"""The Tier-0's side of the agency's readiness contract (docs/protocols.md): webhook signature
check, signal parsing, and polling the agency's readiness API."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

import httpx2

SIGNATURE_HEADER = "X-SpyAgency-Signature"
SIGNATURE_PREFIX = "sha256="


def sign(body: bytes, secret: str) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def signature_ok(body: bytes, secret: str, header: str | None) -> bool:
    if not header or not header.startswith(SIGNATURE_PREFIX):
        return False
    return hmac.compare_digest(sign(body, secret), header.strip())


@dataclass(frozen=True)
class ReadySignal:
    run: int
    verdict: str
    idempotency_key: str


def parse_signals(payload: Any, header_key: str | None = None) -> list[ReadySignal]:
    """Accept one signal object or a whole readiness envelope ``{"signals": [...]}``."""
    if isinstance(payload, dict) and isinstance(payload.get("signals"), list):
        items: list[Any] = payload["signals"]
    else:
        items = [payload]
    signals = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("run"), int):
            raise ValueError("a readiness signal needs an integer 'run'")
        key = item.get("idempotency_key") or header_key
        if not isinstance(key, str) or not key:
            raise ValueError("a readiness signal needs an idempotency key")
        signals.append(ReadySignal(item["run"], str(item.get("verdict", "")), key))
    return signals


def poll_agency(client: httpx2.Client, url: str, after_run: int) -> list[ReadySignal]:
    """One poll of ``GET <agency>/api/v1/readiness``; a down or confused agency gives []."""
    try:
        response = client.get(url, params={"after_run": after_run})
        response.raise_for_status()
        return [s for s in parse_signals(response.json()) if s.verdict == "ready"]
    except (httpx2.HTTPError, ValueError, json.JSONDecodeError):
        return []
