"""Conditional GETs: an ETag on each answer, 304 when the client already has it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from fastapi import Request, Response


def combined_etag(parts: Iterable[str]) -> str:
    """One strong ETag for a list, from the ETags (versions) of its items and the query."""
    digest = hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()
    return f'"{digest[:32]}"'


def not_modified(request: Request, etag: str) -> Response | None:
    """A 304 answer when ``If-None-Match`` names ``etag`` (or ``*``), else None."""
    header = request.headers.get("if-none-match")
    if header is None:
        return None
    wanted = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    if etag in wanted or "*" in wanted:
        return Response(status_code=304, headers={"ETag": etag})
    return None
