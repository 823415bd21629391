"""Browser login with OpenID Connect (authorization code flow with PKCE), and logout.

1. ``GET /auth/login`` reads the issuer's discovery document, keeps a fresh ``state``, ``nonce``
   and PKCE verifier in a short-lived signed cookie, and redirects to the issuer (passing on a
   ``login_hint``, the standard OIDC parameter naming who is about to log in). Without an
   issuer configured, a browser is sent to the ``/login`` page, which says what to set; other
   clients get a 404.
2. ``GET /auth/callback`` checks ``state`` against that cookie, exchanges the code (with the
   verifier) for an id_token, verifies its RS256/ES256 signature against the issuer's JWKS and
   its claims (issuer, audience, expiry, nonce), maps its role claims to a role and starts a
   session.
3. ``POST /auth/logout`` (CSRF-checked like every cookie-session action) ends the session.

The role comes from the first of ``ROLE_CLAIMS`` present in the id_token; any value listed in
``ROLE_VALUES`` grants that role (the highest wins); everyone else who can log in is a viewer.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

import httpx2
from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import RedirectResponse
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.concurrency import run_in_threadpool

from spyagency.config.settings import WebSettings
from spyagency.web.authorization import Role
from spyagency.web.schemas.base import Problem
from spyagency.web.schemas.caller import Me
from spyagency.web.security import (
    Principal,
    SignedCookie,
    check_csrf,
    cookie_secret,
    csrf_token,
    current_principal,
    end_session,
    end_sessions,
    services_of,
    session_epoch,
    set_private_cookie,
    start_session,
)
from spyagency.web.services import WebServices

LOGIN_COOKIE = "spyagency_login"
LOGIN_SECONDS = 600
ROLE_CLAIMS = ("roles", "cern_roles", "groups")
ROLE_VALUES: Mapping[str, Role] = {
    "spyagency-expert": Role.EXPERT,
    "spyagency-operator": Role.OPERATOR,
}
SIGNING_ALGORITHMS = ("RS256", "ES256")
HTTP_TIMEOUT_SECONDS = 10.0


class LoginError(Exception):
    """The issuer's answer cannot be trusted; the message says why (never the token)."""


class IssuerBroken(ValueError):
    """The identity provider answered something no issuer should (a 502, not the user's
    fault)."""


def _json_object(answer: httpx2.Response, what: str) -> dict[str, Any]:
    try:
        document = answer.json()
    except ValueError:
        raise IssuerBroken(f"the issuer's {what} is not JSON") from None
    if not isinstance(document, dict):
        raise IssuerBroken(f"the issuer's {what} is not a JSON object")
    return document


@dataclass(frozen=True)
class OidcClient:
    issuer: str
    client_id: str
    client_secret: str | None

    @classmethod
    def from_settings(cls, settings: WebSettings) -> OidcClient | None:
        if not settings.oidc_issuer or not settings.oidc_client_id:
            return None
        issuer = settings.oidc_issuer.rstrip("/")
        return cls(issuer, settings.oidc_client_id, settings.oidc_client_secret)

    async def discover(self, http: httpx2.AsyncClient) -> dict[str, Any]:
        answer = await http.get(f"{self.issuer}/.well-known/openid-configuration")
        answer.raise_for_status()
        document = _json_object(answer, "discovery document")
        if str(document.get("issuer", "")).rstrip("/") != self.issuer:
            raise LoginError("the discovery document names another issuer")
        return document

    async def identify(
        self, http: httpx2.AsyncClient, code: str, verifier: str, redirect_uri: str, nonce: str
    ) -> dict[str, Any]:
        """Exchange ``code`` for an id_token and return its verified claims."""
        document = await self.discover(http)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": self.client_id,
            "code_verifier": verifier,
        }
        if self.client_secret:
            form["client_secret"] = self.client_secret
        answer = await http.post(str(document["token_endpoint"]), data=form)
        if answer.status_code != 200:
            raise LoginError(f"the issuer refused the code (HTTP {answer.status_code})")
        id_token = _json_object(answer, "token answer").get("id_token")
        if not isinstance(id_token, str):
            raise LoginError("the issuer sent no id_token")
        keys = await http.get(str(document["jwks_uri"]))
        keys.raise_for_status()
        key_set = _json_object(keys, "key set")
        return self.verify(id_token, KeySet.import_key_set(key_set), nonce)  # type: ignore[arg-type]

    def verify(self, id_token: str, keys: KeySet, nonce: str) -> dict[str, Any]:
        try:
            token = jwt.decode(id_token, keys, algorithms=list(SIGNING_ALGORITHMS))
            jwt.JWTClaimsRegistry(
                leeway=60,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.client_id},
                sub={"essential": True},
                exp={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(token.claims)
        except (JoseError, ValueError) as error:
            raise LoginError(f"the id_token is not valid: {type(error).__name__}") from None
        return dict(token.claims)


def role_from_claims(claims: Mapping[str, Any], values: Mapping[str, Role] = ROLE_VALUES) -> Role:
    """The highest role any role claim grants; viewer when none does."""
    granted = Role.VIEWER
    for claim in ROLE_CLAIMS:
        found = claims.get(claim)
        items = [found] if isinstance(found, str) else found if isinstance(found, list) else []
        for item in items:
            role = values.get(str(item))
            if role is not None and role > granted:
                granted = role
    return granted


def name_from_claims(claims: Mapping[str, Any]) -> str:
    for claim in ("preferred_username", "email", "sub"):
        value = claims.get(claim)
        if isinstance(value, str) and value.strip():
            return value.strip()[:200]
    raise LoginError("the id_token names nobody")


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def wants_html(request: Request) -> bool:
    """A browser navigating (it asks for HTML), not a script expecting JSON."""
    return "text/html" in request.headers.get("accept", "")


def safe_next(target: str | None) -> str:
    """Only a path on this site: an open redirect would lend our name to phishing."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def router(services: WebServices) -> APIRouter:
    api = APIRouter(prefix="/auth", tags=["auth"])

    def client() -> OidcClient:
        found = OidcClient.from_settings(services.settings)
        if found is None:
            raise HTTPException(404, "login is not configured (web.oidc_issuer)")
        return found

    def redirect_uri(request: Request) -> str:
        base = services.settings.public_url or str(request.base_url)
        return base.rstrip("/") + "/auth/callback"

    def login_cookie(request: Request) -> SignedCookie:
        return SignedCookie(cookie_secret(request), "login")

    @api.get("/login", response_class=RedirectResponse, status_code=303)
    async def login(
        request: Request,
        next: Annotated[str | None, Query(max_length=2000)] = None,
        login_hint: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    ) -> Response:
        """Send the browser to the issuer; it comes back to ``/auth/callback``.

        ``login_hint`` is passed on to the issuer (the user it should log in)."""
        if OidcClient.from_settings(services.settings) is None and wants_html(request):
            return RedirectResponse(f"/login?{urlencode({'next': safe_next(next)})}", 303)
        oidc = client()
        try:
            async with httpx2.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as http:
                document = await oidc.discover(http)
        except (httpx2.HTTPError, ValueError, LoginError) as error:
            raise HTTPException(502, f"the login service is unavailable: {error}") from None
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        verifier = secrets.token_urlsafe(48)
        query = {
            "response_type": "code",
            "client_id": oidc.client_id,
            "redirect_uri": redirect_uri(request),
            "scope": "openid profile email",
            "state": state,
            "nonce": nonce,
            "code_challenge": pkce_challenge(verifier),
            "code_challenge_method": "S256",
        }
        if login_hint is not None:
            query["login_hint"] = login_hint
        response = RedirectResponse(f"{document['authorization_endpoint']}?{urlencode(query)}", 303)
        pending = {"state": state, "nonce": nonce, "verifier": verifier, "next": safe_next(next)}
        value = login_cookie(request).dump(pending, LOGIN_SECONDS)
        set_private_cookie(request, response, LOGIN_COOKIE, value, LOGIN_SECONDS, path="/auth")
        return response

    @api.get(
        "/callback",
        response_class=RedirectResponse,
        status_code=303,
        responses={400: {"model": Problem}},
    )
    async def callback(
        request: Request,
        code: Annotated[str, Query(min_length=1, max_length=4000)],
        state: Annotated[str, Query(min_length=1, max_length=400)],
    ) -> Response:
        """Finish the login: verify everything the issuer sent, then start the session."""
        oidc = client()
        pending = login_cookie(request).load(request.cookies.get(LOGIN_COOKIE))
        if pending is None or not secrets.compare_digest(str(pending.get("state")), state):
            raise HTTPException(400, "login state does not match; start again at /auth/login")
        try:
            async with httpx2.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as http:
                claims = await oidc.identify(
                    http, code, str(pending["verifier"]), redirect_uri(request), pending["nonce"]
                )
            name = name_from_claims(claims)
        except LoginError as error:
            raise HTTPException(400, str(error)) from None
        except (httpx2.HTTPError, ValueError, KeyError) as error:
            raise HTTPException(502, f"the login service failed: {type(error).__name__}") from None
        role = role_from_claims(claims)
        await run_in_threadpool(audit_login, services, name, role)
        response = RedirectResponse(safe_next(pending.get("next")), 303)
        response.delete_cookie(LOGIN_COOKIE, path="/auth")
        epoch = await run_in_threadpool(session_epoch, services.store, name)
        start_session(request, response, name, role, epoch)
        return response

    @api.post("/logout", status_code=303, response_class=RedirectResponse)
    async def logout(request: Request) -> Response:
        """End the browser session (needs its CSRF token, like every session action)."""
        principal = await run_in_threadpool(current_principal, request)
        await check_csrf(request, principal)
        if principal is not None and principal.via == "session":
            # Server-side: the cookie, replayed later, no longer logs anyone in.
            services = services_of(request)
            now = services.clock.now()
            await run_in_threadpool(
                end_sessions, services.store, principal.name, principal.name, now, "logout"
            )
        response = RedirectResponse("/", 303)
        end_session(response)
        return response

    @api.get("/me", response_model=Me)
    def me(request: Request) -> Me:
        """Who the caller is, and the CSRF token scripts of this session must send."""
        principal: Principal | None = current_principal(request)
        if principal is None:
            return Me(name=None, role=None, via=None, csrf_token="")
        return Me(
            name=principal.name,
            role=principal.role.label,
            via=principal.via,
            csrf_token=csrf_token(request),
        )

    return api


def audit_login(services: WebServices, name: str, role: Role) -> None:
    now = services.clock.now()
    with services.store.transaction() as tx:
        tx.audit.append(now, name, "auth.login", f"user:{name}", {"role": role.label})
