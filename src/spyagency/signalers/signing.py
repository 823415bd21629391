"""The bytes a readiness webhook signs, and the HMAC that proves who sent them.

Both sides of the readiness contract (docs/protocols.md) use these helpers: the agency signs
the exact body it sends, the receiver recomputes the HMAC over the exact body it received.
Signing canonical JSON keeps the signature stable however the payload dict was built.

>>> body = canonical_json({"verdict": "ready", "run": 362000})
>>> body
b'{"run":362000,"verdict":"ready"}'
>>> header = sign(b"shared-secret", body)
>>> header.startswith("sha256=")
True
>>> verify(b"shared-secret", body, header)
True
>>> verify(b"shared-secret", body + b" ", header)
False
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Any

SIGNATURE_HEADER = "X-SpyAgency-Signature"
SIGNATURE_SCHEME = "sha256="


def canonical_json(payload: Mapping[str, Any] | Sequence[Any]) -> bytes:
    """Serialise ``payload`` the one way both sides agree on: sorted keys, no spaces, ASCII.

    Raises ``TypeError`` or ``ValueError`` for values JSON cannot carry (NaN is refused: it is
    not JSON and a strict receiver would reject the body).
    """
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return text.encode("ascii")


def as_secret(secret: bytes | str) -> bytes:
    """Secrets come from settings as text; HMAC wants bytes."""
    return secret if isinstance(secret, bytes) else secret.encode("utf-8")


def sign(secret: bytes, body: bytes) -> str:
    """The ``X-SpyAgency-Signature`` header value for ``body``: ``sha256=<hex HMAC-SHA256>``."""
    return SIGNATURE_SCHEME + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, header_value: str | None) -> bool:
    """Whether ``header_value`` is the signature of ``body`` under ``secret``.

    Constant-time, so a forger learns nothing from how long a wrong guess took. A missing
    header, another scheme or a malformed value is simply not valid.
    """
    if not secret or not header_value:
        return False
    value = header_value.strip()
    if not value.lower().startswith(SIGNATURE_SCHEME):
        return False
    # Hex is case-insensitive; compare bytes so non-ASCII input cannot make compare_digest raise.
    received = value[len(SIGNATURE_SCHEME) :].lower().encode("utf-8", errors="replace")
    expected = sign(secret, body)[len(SIGNATURE_SCHEME) :].encode("ascii")
    return hmac.compare_digest(received, expected)
