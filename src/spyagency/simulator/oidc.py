"""A tiny OpenID Connect provider for tests and demos: discovery, authorize, token, JWKS.

It auto-approves: ``/authorize`` logs in the user named by ``login_hint`` (or the default user)
with the roles configured for that user, and redirects straight back with a code. Built with
``chooser=True`` (the demo), a request without ``login_hint`` gets a page listing the users
instead, each a link to the same request with that user's hint: a newcomer picks whom to be.
``/token`` checks the client, the redirect URI and the PKCE verifier, and answers an RS256-signed
id_token. The signing key is generated when the provider is built.

Faults for testing a client's checks: add names from ``FAULTS`` to ``provider.faults`` and
every id_token issued afterwards is wrong in that way.

>>> provider = OidcProvider("agency", users={"alice": ["spyagency-expert"]})  # doctest: +SKIP
>>> app = provider.app()  # serve it, then point the agency's web.oidc_issuer at its URL
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from joserfc import jwt
from joserfc.jwk import RSAKey

FAULTS = frozenset({"bad_signature", "wrong_nonce", "wrong_audience", "wrong_issuer", "expired"})
CODE_SECONDS = 60
TOKEN_SECONDS = 300


@dataclass(frozen=True)
class Grant:
    client_id: str
    redirect_uri: str
    nonce: str | None
    user: str
    code_challenge: str | None
    expires: float


@dataclass
class OidcProvider:
    client_id: str
    client_secret: str | None = None
    users: dict[str, list[str]] = field(default_factory=dict)
    default_user: str = "tester"
    faults: set[str] = field(default_factory=set)
    # Without a login_hint, ask which user to be instead of logging in the default one.
    chooser: bool = False
    _key: RSAKey = field(init=False, repr=False)
    _other_key: RSAKey = field(init=False, repr=False)
    _grants: dict[str, Grant] = field(init=False, default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        kid = secrets.token_hex(8)
        self._key = RSAKey.generate_key(2048, {"kid": kid, "use": "sig", "alg": "RS256"})
        # Same kid, other key: how a forged token looks to a client that trusts the kid.
        self._other_key = RSAKey.generate_key(2048, {"kid": kid, "alg": "RS256"})

    def app(self) -> FastAPI:
        app = FastAPI(title="Simulated OpenID Connect provider", docs_url=None, redoc_url=None)

        @app.get("/.well-known/openid-configuration")
        def discovery(request: Request) -> dict[str, Any]:
            issuer = _issuer(request)
            return {
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/authorize",
                "token_endpoint": f"{issuer}/token",
                "jwks_uri": f"{issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "scopes_supported": ["openid", "profile", "email"],
            }

        @app.get("/jwks")
        def jwks() -> dict[str, Any]:
            return {"keys": [self._key.as_dict(private=False)]}

        @app.get("/authorize")
        def authorize(request: Request) -> Response:
            query = dict(request.query_params)
            if self.chooser and not query.get("login_hint"):
                self._check_request(query)
                return HTMLResponse(self._choice_page(query))
            return RedirectResponse(self._authorize(query), 302)

        @app.post("/token")
        async def token(request: Request) -> JSONResponse:
            form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
            return JSONResponse(self._token(form, _issuer(request)))

        return app

    def _check_request(self, query: dict[str, str]) -> str:
        """The redirect URI of a well-formed authorization request (400 otherwise)."""
        if query.get("response_type") != "code" or query.get("client_id") != self.client_id:
            raise HTTPException(400, "unsupported response_type or unknown client")
        redirect_uri = query.get("redirect_uri")
        if not redirect_uri:
            raise HTTPException(400, "redirect_uri is required")
        if query.get("code_challenge") and query.get("code_challenge_method") != "S256":
            raise HTTPException(400, "only S256 code challenges")
        return redirect_uri

    def _choice_page(self, query: dict[str, str]) -> str:
        """One link per user: the same authorization request, with that user's login_hint."""
        items = []
        for user, roles in self.users.items():
            target = html.escape(f"/authorize?{urlencode({**query, 'login_hint': user})}")
            granted = html.escape(", ".join(roles) or "no role: a viewer")
            items.append(f'<li><a href="{target}">{html.escape(user)}</a> ({granted})</li>')
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<link rel="icon" href="data:,"><title>Simulated login</title></head><body><main>'
            "<h1>Simulated identity provider</h1>"
            "<p>No password here: this provider logs in whichever user you pick.</p>"
            f"<ul>{''.join(items)}</ul></main></body></html>"
        )

    def _authorize(self, query: dict[str, str]) -> str:
        redirect_uri = self._check_request(query)
        code = secrets.token_urlsafe(24)
        self._grants[code] = Grant(
            client_id=self.client_id,
            redirect_uri=redirect_uri,
            nonce=query.get("nonce"),
            user=query.get("login_hint") or self.default_user,
            code_challenge=query.get("code_challenge"),
            expires=time.time() + CODE_SECONDS,
        )
        back = {"code": code, **({"state": query["state"]} if "state" in query else {})}
        return f"{redirect_uri}?{urlencode(back)}"

    def _token(self, form: dict[str, str], issuer: str) -> dict[str, Any]:
        grant = self._grants.pop(form.get("code", ""), None)  # a code works once
        if (
            grant is None
            or grant.expires < time.time()
            or form.get("grant_type") != ("authorization_code")
        ):
            raise HTTPException(400, "invalid_grant")
        if form.get("client_id") != grant.client_id or form.get("redirect_uri") != (
            grant.redirect_uri
        ):
            raise HTTPException(400, "invalid_grant: client or redirect_uri differ")
        if self.client_secret is not None and not secrets.compare_digest(
            form.get("client_secret", ""), self.client_secret
        ):
            raise HTTPException(401, "invalid_client")
        if grant.code_challenge is not None:
            verifier = form.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode()).digest()
            computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if not secrets.compare_digest(computed, grant.code_challenge):
                raise HTTPException(400, "invalid_grant: PKCE verification failed")
        return {
            "access_token": secrets.token_urlsafe(24),
            "token_type": "Bearer",
            "expires_in": TOKEN_SECONDS,
            "id_token": self._id_token(grant, issuer),
        }

    def _id_token(self, grant: Grant, issuer: str) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": issuer + "/evil" if "wrong_issuer" in self.faults else issuer,
            "sub": f"user-{grant.user}",
            "aud": "someone-else" if "wrong_audience" in self.faults else grant.client_id,
            "iat": now,
            "exp": now - 3600 if "expired" in self.faults else now + TOKEN_SECONDS,
            "preferred_username": grant.user,
            "email": f"{grant.user}@example.org",
            "roles": list(self.users.get(grant.user, [])),
        }
        if grant.nonce is not None:
            claims["nonce"] = "not-yours" if "wrong_nonce" in self.faults else grant.nonce
        key = self._other_key if "bad_signature" in self.faults else self._key
        header = {"alg": "RS256", "kid": self._key.kid, "typ": "JWT"}
        return jwt.encode(header, claims, key, algorithms=["RS256"])


def _issuer(request: Request) -> str:
    return str(request.base_url).rstrip("/")


# --- API access tokens (CERN SSO for machine clients) -----------------------------------

TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 (a URN)
# Where the simulated SSO answers: the standard token endpoint (client credentials and token
# exchange) and CERN's one-step endpoint (client credentials made out to an audience).
TOKEN_PATH = "/auth/realms/cern/protocol/openid-connect/token"  # noqa: S105 (a path)
API_ACCESS_PATH = "/auth/realms/cern/api-access/token"


@dataclass(frozen=True)
class ApiToken:
    client_id: str
    audience: str | None
    expires: float


@dataclass
class ApiTokenIssuer:
    """Issues opaque bearer tokens to machine clients, as CERN SSO does for APIs.

    - ``client_credentials`` at ``TOKEN_PATH``: a token for the client itself (no audience;
      an ``audience`` parameter is ignored there, as Keycloak ignores it).
    - ``client_credentials`` at ``API_ACCESS_PATH``: a token made out to ``audience``.
    - token exchange at ``TOKEN_PATH``: the client's own token traded for one made out to
      ``audience`` (what the official OMS client does).

    ``clients`` maps client ids to secrets; None accepts every client with a non-empty
    secret (demos). An API asks ``audience_of(token)`` and refuses other audiences.
    """

    clients: dict[str, str] | None = None
    lifetime_s: float = TOKEN_SECONDS
    _tokens: dict[str, ApiToken] = field(init=False, default_factory=dict, repr=False)

    def grant(self, form: dict[str, str], *, one_step: bool) -> dict[str, Any]:
        client_id = form.get("client_id", "")
        if not self._client_ok(client_id, form.get("client_secret", "")):
            raise HTTPException(401, "invalid_client")
        grant_type = form.get("grant_type")
        if grant_type == "client_credentials":
            return self._issue(client_id, (form.get("audience") or None) if one_step else None)
        if grant_type == TOKEN_EXCHANGE_GRANT and not one_step:
            subject = self._tokens.get(form.get("subject_token", ""))
            if subject is None or subject.expires < time.time() or subject.client_id != client_id:
                raise HTTPException(400, "invalid_token: subject_token")
            audience = form.get("audience")
            if not audience:
                raise HTTPException(400, "invalid_request: audience")
            return self._issue(client_id, audience)
        raise HTTPException(400, "unsupported_grant_type")

    def audience_of(self, token: str) -> str | None:
        """The audience a live token is made out to (None: unknown, expired or none)."""
        issued = self._tokens.get(token)
        if issued is None or issued.expires < time.time():
            return None
        return issued.audience

    def _client_ok(self, client_id: str, secret: str) -> bool:
        if not client_id or not secret:
            return False
        if self.clients is None:
            return True
        expected = self.clients.get(client_id)
        return expected is not None and secrets.compare_digest(secret, expected)

    def _issue(self, client_id: str, audience: str | None) -> dict[str, Any]:
        now = time.time()
        # Forget dead tokens now and then, so a long demo does not grow without bound.
        for dead in [t for t, v in self._tokens.items() if v.expires < now]:
            del self._tokens[dead]
        token = secrets.token_urlsafe(24)
        self._tokens[token] = ApiToken(client_id, audience, now + self.lifetime_s)
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": int(self.lifetime_s),
        }

    def router(self) -> APIRouter:
        router = APIRouter()

        @router.post(TOKEN_PATH)
        async def token(request: Request) -> JSONResponse:
            form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
            return JSONResponse(self.grant(form, one_step=False))

        @router.post(API_ACCESS_PATH)
        async def api_access(request: Request) -> JSONResponse:
            form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
            return JSONResponse(self.grant(form, one_step=True))

        return router
