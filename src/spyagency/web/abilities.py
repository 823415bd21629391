"""What a login gives, in words: the actions of ``authorization.LEAST_ROLE`` as an operator
reads them, per role. Pages offer them to anonymous visitors ("Log in as an expert to ...");
the demo prints them beside each demo user.

Revoking an override is the same role as giving it, so only the giving is worded.
"""

from __future__ import annotations

from collections.abc import Mapping

from spyagency.web.authorization import LEAST_ROLE, Action, Role

ACTION_WORDS: Mapping[Action, str] = {
    Action.ACK_ALERT: "acknowledge alerts",
    Action.HOLD: "hold runs",
    Action.FORCE_READY: "force runs ready",
    Action.IGNORE_WORKFLOW: "ignore workflows",
    Action.SET_SIGNALS: "use the kill switch",
}
# Worded through the action they undo (same least role), or granted to every reader.
UNWORDED = frozenset(
    {
        Action.READ,
        Action.REVOKE_HOLD,
        Action.REVOKE_FORCE_READY,
        Action.REVOKE_IGNORE_WORKFLOW,
    }
)


def gained_at(role: Role) -> list[str]:
    """What ``role`` may do that the role below it may not, in the table's order."""
    return [words for action, words in ACTION_WORDS.items() if LEAST_ROLE[action] is role]


def allowed_to(role: Role) -> list[str]:
    """Everything ``role`` may do beyond reading."""
    return [words for action, words in ACTION_WORDS.items() if LEAST_ROLE[action] <= role]


def listed(items: list[str]) -> str:
    """``["a", "b", "c"]`` -> ``"a, b and c"``."""
    if len(items) < 2:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def login_offer() -> str:
    """One sentence for an anonymous visitor: which login gives which actions."""
    parts = [
        f"as {'an' if role.label[0] in 'aeiou' else 'a'} {role.label} to {listed(gained_at(role))}"
        for role in Role
        if gained_at(role)
    ]
    return "Log in " + "; ".join(parts) + "."
