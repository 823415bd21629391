"""What a spy asks of a file system, seen from outside the spy.

A ``FileSystemWatch`` records, one ``Calls`` per watched poll, the calls made under one root
folder while the poll runs:

* folder listings and file opens through Python's audit events: ``os.listdir`` and
  ``os.scandir`` (a listing), ``open`` and ``sqlite3.connect`` (a file read; a read-only
  sqlite URI is turned back into its path);
* stats, which raise no audit event, by wrapping ``os.stat`` while a watch is active: the
  spy, ``os.path.exists`` and ``Path.stat`` all reach the call through the ``os`` module.
  A stat reaching the system some other way (``os.lstat``, a directory entry's cached stat,
  C code) is not seen.

An audit hook cannot be removed, so it is installed once and counts only in a context where
a watch is active (a context variable, which ``asyncio.to_thread`` carries into the worker
thread a poll runs its scan in). ``os.stat`` is wrapped only while a watch is active. Only
the calls made during a watched poll count: what a test writes or reads between polls does
not.
"""

from __future__ import annotations

import os
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spyagency.spies.base import Spy
from spyagency.spies.scope import PollScope, SpyReport


@dataclass
class Calls:
    """The calls of one watched poll under the root, as paths relative to it (``.`` is the
    root itself), in the order they were made."""

    roots: tuple[str, ...]  # the root as given and as resolved, each ending with a separator
    listed: list[str] = field(default_factory=list)  # folders listed
    opened: list[str] = field(default_factory=list)  # files opened (once per open or connect)
    looked_up: list[str] = field(default_factory=list)  # paths stat'ed
    missing: list[str] = field(default_factory=list)  # of those, the ones not there

    def listings(self, folder: str) -> int:
        """How many times ``folder`` (relative to the root) was listed."""
        return self.listed.count(folder)

    def files_read(self) -> set[str]:
        """The names of the files opened, each once however many times it was opened."""
        return {os.path.basename(path) for path in self.opened}

    def names_looked_up(self) -> set[str]:
        return {os.path.basename(path) for path in self.looked_up}

    def names_missing(self) -> set[str]:
        """The names looked up that were not there: files looked for rather than known."""
        return {os.path.basename(path) for path in self.missing}

    def relative(self, path: object) -> str | None:
        """``path`` relative to the root, or None for a path elsewhere (or a descriptor)."""
        if not isinstance(path, str | bytes | os.PathLike):
            return None
        text = os.path.abspath(os.fsdecode(path))
        for root in self.roots:
            if text + os.sep == root:
                return "."
            if text.startswith(root):
                return text[len(root) :]
        return None


_ACTIVE: ContextVar[Calls | None] = ContextVar("file_system_calls", default=None)
_LOCK = threading.Lock()
_hook_installed = False
_watches_active = 0
_real_stat = os.stat


def _sqlite_path(database: object) -> object:
    """The file a ``sqlite3.connect`` argument names: a ``file:`` URI is unquoted."""
    if isinstance(database, str) and database.startswith("file:"):
        return urllib.parse.unquote(database[len("file:") :].partition("?")[0])
    return database


def _on_audit_event(event: str, args: tuple[Any, ...]) -> None:
    calls = _ACTIVE.get()
    if calls is None or not args:
        return
    if event in {"os.listdir", "os.scandir"}:
        into = calls.listed
    elif event == "open":
        into = calls.opened
    elif event == "sqlite3.connect":
        into, args = calls.opened, (_sqlite_path(args[0]),)
    else:
        return
    path = calls.relative(args[0])
    if path is not None:
        into.append(path)


def _watched_stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
    calls = _ACTIVE.get()
    relative = calls.relative(path) if calls is not None else None
    if calls is None or relative is None:
        return _real_stat(path, *args, **kwargs)
    calls.looked_up.append(relative)
    try:
        return _real_stat(path, *args, **kwargs)
    except FileNotFoundError:
        calls.missing.append(relative)
        raise


@contextmanager
def _activated(calls: Calls) -> Iterator[Calls]:
    global _hook_installed, _watches_active  # noqa: PLW0603 - one hook and one patch per process
    with _LOCK:
        if not _hook_installed:
            sys.addaudithook(_on_audit_event)
            _hook_installed = True
        if _watches_active == 0:
            os.stat = _watched_stat
        _watches_active += 1
    token = _ACTIVE.set(calls)
    try:
        yield calls
    finally:
        _ACTIVE.reset(token)
        with _LOCK:
            _watches_active -= 1
            if _watches_active == 0:
                os.stat = _real_stat


class FileSystemWatch:
    """The file-system calls under ``root`` of each poll made through ``poll``."""

    def __init__(self, root: Path) -> None:
        given = os.path.abspath(root)
        resolved = os.path.realpath(root)
        self.roots = tuple(dict.fromkeys(os.path.join(p, "") for p in (given, resolved)))
        self.polls: list[Calls] = []

    async def poll(self, spy: Spy, scope: PollScope) -> SpyReport:
        """``spy.poll(scope)``, its file-system calls recorded as the last of ``polls``."""
        calls = Calls(self.roots)
        self.polls.append(calls)
        with _activated(calls):
            return await spy.poll(scope)

    @property
    def last(self) -> Calls:
        return self.polls[-1]

    def listings(self, folder: str) -> int:
        """How many times ``folder`` (relative to the root) was listed over every poll."""
        return sum(calls.listings(folder) for calls in self.polls)

    def polls_listing(self, folder: str) -> list[int]:
        """The polls (counted from 1) that listed ``folder``."""
        return [n for n, calls in enumerate(self.polls, start=1) if calls.listings(folder)]
