"""Who is looking at a page, and which controls to show them.

The decision itself lives in ``web.authorization`` (action -> least role); pages only ask
``may``. A hidden control is a courtesy: the API checks again on every request.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from spyagency.web.authorization import Action, Role, may
from spyagency.web.security import Principal, csrf_token, current_principal


@dataclass(frozen=True)
class Viewer:
    principal: Principal | None
    csrf: str
    open_read: bool

    @property
    def name(self) -> str | None:
        return self.principal.name if self.principal else None

    @property
    def role(self) -> str | None:
        return self.principal.role.label if self.principal else None

    def can(self, action: Action | str) -> bool:
        role: Role | None = self.principal.role if self.principal else None
        return may(role, action, open_read=self.open_read)

    @property
    def can_read(self) -> bool:
        return self.can(Action.READ)


def viewer_of(request: Request, open_read: bool) -> Viewer:
    """The caller as a page sees it. Blocking (an API token is looked up in the store): page
    handlers are plain functions, which FastAPI runs in its thread pool."""
    principal = current_principal(request)
    return Viewer(principal, csrf_token(request) if principal else "", open_read)
