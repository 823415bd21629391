"""``/docs``: the interactive API documentation (Swagger UI) under the strict CSP.

FastAPI's own page loads Swagger UI from a CDN and starts it with an inline script, both of
which the Content-Security-Policy blocks (the page stayed blank). This page loads the
vendored bundle from ``/static`` (version in the file name) and starts it from an external
script, ``static/api-docs.js``, so the policy stays as strict as everywhere else.

For a logged-in browser the page carries the session's CSRF token, which the start script
adds to the requests "Try it out" sends: actions need it like any other session request.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from spyagency.web.security import csrf_token

SWAGGER_UI_VERSION = "5.35.0"
SWAGGER_JS = f"/static/swagger-ui-{SWAGGER_UI_VERSION}.bundle.js"
SWAGGER_CSS = f"/static/swagger-ui-{SWAGGER_UI_VERSION}.css"
START_JS = "/static/api-docs.js"


def docs_html(title: str, openapi_url: str, csrf: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="{escape(csrf)}">
<title>{escape(title)} API</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{SWAGGER_CSS}">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{escape(openapi_url)}"></div>
<noscript><p>This page needs JavaScript. The API description itself is
<a href="{escape(openapi_url)}">{escape(openapi_url)}</a>.</p></noscript>
<script src="{SWAGGER_JS}"></script>
<script src="{START_JS}"></script>
</body>
</html>
"""


def router(title: str, openapi_url: str) -> APIRouter:
    api = APIRouter()

    @api.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        page = docs_html(title, openapi_url, csrf_token(request))
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    return api
