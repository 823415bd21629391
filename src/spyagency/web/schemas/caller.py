"""Who is asking: the caller's name and role as the API sees them (``/auth/me``), and the
CSRF token a session's actions must send."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from spyagency.web.schemas.base import Schema


class Me(Schema):
    name: str | None
    role: str | None = Field(description="viewer, operator or expert")
    via: Literal["token", "session"] | None
    csrf_token: str = Field(description="send as X-CSRF-Token with session actions")
