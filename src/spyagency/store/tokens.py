"""API tokens as stored: a name, a role and the SHA-256 of the token (never the token itself).

The web layer makes and checks tokens; this repository only keeps their hashes, so reading the
database (a backup, a replica) never yields a usable credential.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, RowMapping, insert, select, update

from spyagency.store.schema import api_token


@dataclass(frozen=True)
class ApiToken:
    id: int
    name: str
    role: str
    token_hash: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        # Revoked means revoked: the revoking host's clock (an operator's laptop, the CLI
        # beside a demo's scaled clock) may run ahead of this server's, so the time a token
        # was revoked is never compared with "now".
        return self.revoked_at is None


class ApiTokenRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, name: str, role: str, token_hash: str, now: datetime) -> int:
        """Keep a new token's hash; returns its id."""
        statement = (
            insert(api_token)
            .values(name=name, role=role, token_hash=token_hash, created_at=now, revoked_at=None)
            .returning(api_token.c.id)
        )
        return int(self._connection.execute(statement).scalar_one())

    def active_named(self, name: str) -> bool:
        query = select(api_token.c.id).where(
            api_token.c.name == name, api_token.c.revoked_at.is_(None)
        )
        return self._connection.execute(query.limit(1)).first() is not None

    def by_hash(self, token_hash: str) -> ApiToken | None:
        """The token with this hash, revoked or not (the caller decides what revoked means)."""
        query = select(api_token).where(api_token.c.token_hash == token_hash)
        row = self._connection.execute(query).mappings().first()
        return _from_row(row) if row is not None else None

    def list(self) -> builtins.list[ApiToken]:
        """Every token ever issued, oldest first."""
        query = select(api_token).order_by(api_token.c.id)
        return [_from_row(row) for row in self._connection.execute(query).mappings()]

    def revoke(self, name: str, now: datetime) -> int:
        """Revoke every active token called ``name``; returns how many were revoked."""
        statement = (
            update(api_token)
            .where(api_token.c.name == name, api_token.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return int(self._connection.execute(statement).rowcount)


def _from_row(row: RowMapping) -> ApiToken:
    return ApiToken(
        id=int(row["id"]),
        name=row["name"],
        role=row["role"],
        token_hash=row["token_hash"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )
