"""Every authorization decision of the web layer, in one table: action -> least role.

Roles are ordered ``viewer < operator < expert``; a principal may do an action when its role
is at least the action's. Reading is the one action anonymous callers may do, and only while
``open_read`` is configured: the agency's state is not secret inside CMS, its controls are.

A change violates this design when an endpoint or page compares roles itself instead of
naming an action here.
"""

from __future__ import annotations

from enum import Enum, IntEnum, StrEnum

from spyagency.domain.overrides import OverrideKind


class Role(IntEnum):
    """Ordered so that ``role >= Role.OPERATOR`` reads as "at least operator"."""

    VIEWER = 1
    OPERATOR = 2
    EXPERT = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Role:
        """``"operator"`` -> ``Role.OPERATOR``; ValueError for anything else."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(role.label for role in cls)
            raise ValueError(f"unknown role {text!r}; expected one of {names}") from None


class Action(StrEnum):
    READ = "read"
    ACK_ALERT = "alert.ack"
    HOLD = "override.hold"
    FORCE_READY = "override.force_ready"
    IGNORE_WORKFLOW = "override.ignore_workflow"
    REVOKE_HOLD = "override.revoke.hold"
    REVOKE_FORCE_READY = "override.revoke.force_ready"
    REVOKE_IGNORE_WORKFLOW = "override.revoke.ignore_workflow"
    SET_SIGNALS = "control.signals"


# Revoking an override needs the same role as giving it: an operator may lift a hold, but
# only an expert may withdraw (or grant) a decision that lets a run go without its proof.
LEAST_ROLE: dict[Action, Role] = {
    Action.READ: Role.VIEWER,
    Action.ACK_ALERT: Role.OPERATOR,
    Action.HOLD: Role.OPERATOR,
    Action.FORCE_READY: Role.EXPERT,
    Action.IGNORE_WORKFLOW: Role.EXPERT,
    Action.REVOKE_HOLD: Role.OPERATOR,
    Action.REVOKE_FORCE_READY: Role.EXPERT,
    Action.REVOKE_IGNORE_WORKFLOW: Role.EXPERT,
    Action.SET_SIGNALS: Role.EXPERT,
}

_GIVE = {
    OverrideKind.HOLD: Action.HOLD,
    OverrideKind.FORCE_READY: Action.FORCE_READY,
    OverrideKind.IGNORE_WORKFLOW: Action.IGNORE_WORKFLOW,
}
_REVOKE = {
    OverrideKind.HOLD: Action.REVOKE_HOLD,
    OverrideKind.FORCE_READY: Action.REVOKE_FORCE_READY,
    OverrideKind.IGNORE_WORKFLOW: Action.REVOKE_IGNORE_WORKFLOW,
}


def give_override(kind: OverrideKind) -> Action:
    return _GIVE[kind]


def revoke_override(kind: OverrideKind) -> Action:
    return _REVOKE[kind]


class Decision(Enum):
    ALLOWED = "allowed"
    UNAUTHENTICATED = "unauthenticated"  # 401: say who you are
    FORBIDDEN = "forbidden"  # 403: known, but the role is too low


def decide(role: Role | None, action: Action | str, *, open_read: bool) -> Decision:
    """May a caller with ``role`` (None: anonymous) do ``action``?"""
    wanted = Action(action)
    if role is None:
        if wanted is Action.READ and open_read:
            return Decision.ALLOWED
        return Decision.UNAUTHENTICATED
    return Decision.ALLOWED if role >= LEAST_ROLE[wanted] else Decision.FORBIDDEN


def may(role: Role | None, action: Action | str, *, open_read: bool) -> bool:
    """For pages that show or hide a control: the same answer ``decide`` gives."""
    return decide(role, action, open_read=open_read) is Decision.ALLOWED
