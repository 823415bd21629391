"""Keyset pages, the one shape every list of the web layer has (runs, alerts, audit, by page
and by API): read one more item than the page holds; if it came, there is an older page,
which starts below the last item shown.

Unlike OFFSET, a keyset cursor stays exact while new items arrive at the top.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

Item = TypeVar("Item")


@dataclass(frozen=True)
class KeysetPage(Generic[Item]):
    items: list[Item]
    # Pass as ``before_*`` to read the next (older) page; None on the last page.
    next_before: int | None


def keyset_page(fetched: Sequence[Item], size: int, key: Callable[[Item], int]) -> KeysetPage[Item]:
    """``fetched``: up to ``size + 1`` items, newest first, read with ``limit=size + 1``."""
    items = list(fetched[:size])
    more = len(fetched) > size and bool(items)
    return KeysetPage(items, key(items[-1]) if more else None)
