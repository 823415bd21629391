"""Who is calling: API tokens (``Authorization: Bearer``) and the browser's signed session.

What pages and routes use:

- ``current_principal(request)``: the caller, or None when anonymous;
- ``csrf_token(request)``: the token a form of this session must send back;
- ``require(action)``: a FastAPI dependency that answers 401/403 unless the caller may do
  ``action`` (decided in ``authorization``), and checks the CSRF token of cookie sessions on
  every state-changing request (bearer requests carry no ambient credential, so need none);
- ``issue_token(store, name, role, now)``: a new API token, returned once, stored hashed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import parse_qs

from fastapi import HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from spyagency.config.settings import WebSettings
from spyagency.store.uow import Store
from spyagency.web.authorization import Action, Decision, Role, decide
from spyagency.web.services import WebServices

SESSION_COOKIE = "spyagency_session"
TOKEN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
# Control key prefix holding a name's session epoch (see ``session_epoch``).
SESSION_EPOCH = "session_epoch:"
SESSION_SECONDS = 12 * 3600
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
TOKEN_PREFIX = "spy_"  # noqa: S105 - a marker that makes leaked tokens greppable
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_UNRESOLVED = object()
_SCOPE_KEY = "spyagency.principal"


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role
    via: Literal["token", "session"]


def services_of(request: Request) -> WebServices:
    services: WebServices = request.app.state.services
    return services


# --- API tokens -------------------------------------------------------------------------


def hash_token(plaintext: str) -> str:
    """SHA-256 suffices: tokens carry 256 random bits, so there is nothing to brute-force."""
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def issue_token(store: Store, name: str, role: Role | str, now: datetime) -> str:
    """Create an API token called ``name`` with ``role``; returns the plaintext, shown once.

    >>> token = issue_token(store, "tier0-poller", "viewer", clock.now())  # doctest: +SKIP
    """
    granted = role if isinstance(role, Role) else Role.parse(role)
    if not TOKEN_NAME.fullmatch(name):
        # Names are shown in the audit log, pages and terminals: no control characters, no
        # look-alike spacing, nothing a terminal would interpret.
        raise ValueError(
            "a token name is 1-64 characters: letters, digits and . _ @ - "
            f"(starting with a letter or digit), not {name!r:.80}"
        )
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with store.transaction() as tx:
        if tx.tokens.active_named(name):
            raise ValueError(f"an active token is already called {name!r}: revoke it first")
        tx.tokens.add(name, granted.label, hash_token(plaintext), now)
        tx.audit.append(now, "cli", "token.issue", f"token:{name}", {"role": granted.label})
    return plaintext


def revoke_tokens(store: Store, name: str, now: datetime) -> int:
    """Revoke every active token called ``name``; returns how many."""
    with store.transaction() as tx:
        revoked = tx.tokens.revoke(name, now)
        tx.audit.append(now, "cli", "token.revoke", f"token:{name}", {"revoked": revoked})
    return revoked


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _token_principal(services: WebServices, plaintext: str) -> Principal | None:
    wanted = hash_token(plaintext)
    with services.store.read() as tx:
        token = tx.tokens.by_hash(wanted)
    if token is None or not token.active:
        return None
    if not hmac.compare_digest(token.token_hash, wanted):
        return None
    try:
        role = Role.parse(token.role)
    except ValueError:
        return None
    return Principal(f"token:{token.name}", role, "token")


# --- signed cookies ---------------------------------------------------------------------


def secret_for(settings: WebSettings) -> bytes:
    """The configured key, or a random one: sessions then end when the process restarts."""
    if settings.secret_key:
        return hashlib.sha256(settings.secret_key.encode("utf-8")).digest()
    return secrets.token_bytes(32)


class SignedCookie:
    """A JSON payload with an expiry, HMAC-signed for one ``purpose`` so that a cookie made
    for one use (say the login handshake) is never accepted as another (the session)."""

    def __init__(self, secret: bytes, purpose: str) -> None:
        self._secret = secret
        self._purpose = purpose.encode("ascii")

    def dump(self, data: dict[str, Any], max_age: int) -> str:
        body = _b64(json.dumps({**data, "exp": int(time.time()) + max_age}).encode("utf-8"))
        return f"{body}.{self._sign(body)}"

    def load(self, text: str | None) -> dict[str, Any] | None:
        if not text or text.count(".") != 1:
            return None
        body, signature = text.split(".")
        if not hmac.compare_digest(signature, self._sign(body)):
            return None
        try:
            data = json.loads(_unb64(body))
        except ValueError:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("exp"), int):
            return None
        return data if data["exp"] > time.time() else None

    def _sign(self, body: str) -> str:
        mac = hmac.new(self._secret, self._purpose + b"." + body.encode("ascii"), "sha256")
        return _b64(mac.digest())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def cookie_secret(request: Request) -> bytes:
    secret: bytes = request.app.state.cookie_secret
    return secret


def secure_cookies(request: Request) -> bool:
    public = services_of(request).settings.public_url or ""
    return request.url.scheme == "https" or public.startswith("https://")


def set_private_cookie(
    request: Request, response: Response, name: str, value: str, seconds: int, path: str = "/"
) -> None:
    """Every cookie we set: HttpOnly, SameSite=Lax, Secure behind HTTPS, with a lifetime."""
    response.set_cookie(
        name,
        value,
        max_age=seconds,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
        path=path,
    )


def session_epoch(store: Store, name: str) -> int:
    """The generation of ``name``'s browser sessions: a session cookie is good only while it
    carries the current one, so logging out (or ``spyagency session end``) ends every session
    of that name at once, cookies replayed later included."""
    with store.read() as tx:
        found = tx.controls.get(SESSION_EPOCH + name)
    return found.value if found is not None and isinstance(found.value, int) else 0


def end_sessions(store: Store, name: str, who: str, now: datetime, reason: str) -> int:
    """Invalidate every session of ``name``; returns the new epoch."""
    with store.transaction() as tx:
        found = tx.controls.get(SESSION_EPOCH + name)
        current = found.value if found is not None and isinstance(found.value, int) else 0
        tx.controls.set(SESSION_EPOCH + name, current + 1, who, now, reason)
        tx.audit.append(now, who, "session.end", f"user:{name}", {"reason": reason})
    return current + 1


def start_session(
    request: Request, response: Response, name: str, role: Role, epoch: int = 0
) -> None:
    """Log ``name`` in: a fresh session (and CSRF token) in a signed, HttpOnly cookie, at the
    name's current session epoch."""
    payload = {
        "name": name,
        "role": role.label,
        "csrf": secrets.token_urlsafe(24),
        "epoch": epoch,
    }
    value = SignedCookie(cookie_secret(request), "session").dump(payload, SESSION_SECONDS)
    set_private_cookie(request, response, SESSION_COOKIE, value, SESSION_SECONDS)


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")


def _session(request: Request) -> dict[str, Any] | None:
    codec = SignedCookie(cookie_secret(request), "session")
    return codec.load(request.cookies.get(SESSION_COOKIE))


def _session_principal(request: Request) -> Principal | None:
    data = _session(request)
    if data is None or not isinstance(data.get("name"), str):
        return None
    try:
        role = Role.parse(str(data.get("role", "")))
    except ValueError:
        return None
    # A session from before its name's sessions were ended is over, however well signed.
    if data.get("epoch", 0) != session_epoch(services_of(request).store, data["name"]):
        return None
    return Principal(data["name"], role, "session")


# --- the caller ---------------------------------------------------------------------------


def current_principal(request: Request) -> Principal | None:
    """The caller: a valid bearer token wins over the session cookie; None if anonymous.

    Blocking (a token is looked up in the store): call it from sync code or a thread.
    """
    # Cached in the scope, not ``request.state``: lifespan state may be one dict shared by
    # every request of a server, which would leak one caller's identity to the next.
    cached = request.scope.get(_SCOPE_KEY, _UNRESOLVED)
    if cached is not _UNRESOLVED:
        return cached if isinstance(cached, Principal) else None
    plaintext = _bearer(request)
    if plaintext is not None:
        found = _token_principal(services_of(request), plaintext)
    else:
        found = _session_principal(request)
    request.scope[_SCOPE_KEY] = found
    return found


def csrf_token(request: Request) -> str:
    """The session's CSRF token ("" without a session): put it in forms or X-CSRF-Token."""
    data = _session(request)
    token = data.get("csrf") if data else None
    return token if isinstance(token, str) else ""


async def _sent_csrf_token(request: Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        fields = parse_qs((await request.body()).decode("utf-8", "replace"))
        return fields.get(CSRF_FIELD, [""])[0]
    return ""


async def check_csrf(request: Request, principal: Principal | None) -> None:
    """Refuse a state-changing cookie-session request without its session's CSRF token."""
    if request.method in SAFE_METHODS or principal is None or principal.via != "session":
        return
    expected = csrf_token(request)
    sent = await _sent_csrf_token(request)
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise HTTPException(403, "missing or wrong CSRF token")


def _refuse(decision: Decision, request: Request, action: Action) -> HTTPException:
    if decision is Decision.UNAUTHENTICATED:
        detail = "invalid or revoked token" if _bearer(request) else "authentication required"
        return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})
    return HTTPException(403, f"your role may not do {action.value}")


async def authorize(request: Request, action: Action | str) -> Principal | None:
    """Raise 401/403 unless the caller may do ``action``; returns the caller."""
    wanted = Action(action)
    if _bearer(request) is None and SESSION_COOKIE not in request.cookies:
        # An anonymous caller needs no store: a trip through the thread pool would cost every
        # open read more than the check. A token or a session (its epoch) is read from the
        # store, never on the event loop.
        principal = current_principal(request)
    else:
        principal = await run_in_threadpool(current_principal, request)
    if principal is None and _bearer(request) is not None:
        # A bad token is an error even where anonymous reading is allowed: silently reading
        # as anonymous would hide a revoked or mistyped token until a write fails.
        raise _refuse(Decision.UNAUTHENTICATED, request, wanted)
    open_read = services_of(request).settings.open_read
    decision = decide(principal.role if principal else None, wanted, open_read=open_read)
    if decision is not Decision.ALLOWED:
        raise _refuse(decision, request, wanted)
    await check_csrf(request, principal)
    return principal


def ensure_may(principal: Principal, action: Action | str) -> None:
    """Raise 403 unless ``principal`` may do ``action``: for actions that depend on the
    request body (which override kind), after ``require_actor`` let the caller in."""
    wanted = Action(action)
    if decide(principal.role, wanted, open_read=False) is not Decision.ALLOWED:
        raise HTTPException(403, f"your role may not do {wanted.value}")


def require(action: Action | str) -> Callable[[Request], Awaitable[Principal | None]]:
    """A dependency: ``principal = Depends(require("read"))``; None only for open reads."""
    wanted = Action(action)

    async def dependency(request: Request) -> Principal | None:
        return await authorize(request, wanted)

    return dependency


def require_actor(action: Action | str) -> Callable[[Request], Awaitable[Principal]]:
    """Like ``require``, for actions no anonymous caller may do: always a principal."""
    wanted = Action(action)

    async def dependency(request: Request) -> Principal:
        principal = await authorize(request, wanted)
        if principal is None:  # only READ may be anonymous; kept for the type checker
            raise HTTPException(401, "authentication required")
        return principal

    return dependency
