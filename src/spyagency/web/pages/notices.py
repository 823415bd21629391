"""One-time notices ("override placed", "refused: ...") carried across the redirect that ends
a form post, so plain HTML forms tell people what happened without any JavaScript.

The notice travels in a short-lived signed cookie rather than the URL: a link cannot make
the agency appear to say something it did not, and reloading the page does not repeat it.
The page that shows a notice clears the cookie in the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request, Response

from spyagency.web.security import SignedCookie, cookie_secret, set_private_cookie

NOTICE_COOKIE = "spyagency_notice"
NOTICE_SECONDS = 120
MAX_TEXT = 500


@dataclass(frozen=True)
class Notice:
    text: str
    ok: bool


def _codec(request: Request) -> SignedCookie:
    return SignedCookie(cookie_secret(request), "notice")


def leave_notice(request: Request, response: Response, notice: Notice) -> None:
    """Attach ``notice`` to ``response`` (a redirect) for the next page to show."""
    payload = {"text": notice.text[:MAX_TEXT], "ok": notice.ok}
    value = _codec(request).dump(payload, NOTICE_SECONDS)
    set_private_cookie(request, response, NOTICE_COOKIE, value, NOTICE_SECONDS)


def pending_notice(request: Request) -> Notice | None:
    """The notice left for this page, if any (a forged or stale cookie is ignored)."""
    data = _codec(request).load(request.cookies.get(NOTICE_COOKIE))
    if data is None or not isinstance(data.get("text"), str):
        return None
    return Notice(data["text"], bool(data.get("ok")))


def clear_notice(response: Response) -> None:
    response.delete_cookie(NOTICE_COOKIE, path="/", httponly=True, samesite="lax")
