"""The CondDB tables the spy reads, as SQLAlchemy Core tables (CondCore/CondDB IOVSchema.h).

Names are uppercase, as in Oracle and in every CMS sqlite file; SQLAlchemy quotes them, which
is what PostgreSQL needs and harmless elsewhere. Built on demand (never at import time) with
an optional schema such as ``CMS_CONDITIONS``.

Timestamp columns are left untyped on purpose: Oracle and PostgreSQL return datetimes, sqlite
returns text in several spellings, and the spy normalises each row itself so that one odd
value costs one row, not the whole query.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, LargeBinary, MetaData, String, Table


@dataclass(frozen=True)
class CondDbTables:
    metadata: MetaData
    tag: Table
    iov: Table
    payload: Table
    global_tag_map: Table


def conddb_tables(schema: str | None = None) -> CondDbTables:
    metadata = MetaData(schema=schema)
    tag = Table(
        "TAG",
        metadata,
        Column("NAME", String(4000), primary_key=True),
        Column("TIME_TYPE", String(4000), nullable=False),
        Column("OBJECT_TYPE", String(4000), nullable=False),
        Column("SYNCHRONIZATION", String(4000), nullable=False),
        Column("DESCRIPTION", String(4000), nullable=False),
        Column("LAST_VALIDATED_TIME", BigInteger, nullable=False),
        Column("END_OF_VALIDITY", BigInteger, nullable=False),
        Column("INSERTION_TIME", nullable=False),
        Column("MODIFICATION_TIME", nullable=False),
        Column("PROTECTION_CODE", BigInteger, nullable=False),
    )
    iov = Table(
        "IOV",
        metadata,
        Column("TAG_NAME", String(4000), primary_key=True),
        Column("SINCE", BigInteger, primary_key=True),
        Column("INSERTION_TIME", primary_key=True),
        Column("PAYLOAD_HASH", String(40), nullable=False),
    )
    payload = Table(
        "PAYLOAD",
        metadata,
        Column("HASH", String(40), primary_key=True),
        Column("OBJECT_TYPE", String(4000), nullable=False),
        Column("DATA", LargeBinary, nullable=False),
        Column("STREAMER_INFO", LargeBinary, nullable=False),
        Column("VERSION", String(4000), nullable=False),
        Column("INSERTION_TIME", nullable=False),
    )
    global_tag_map = Table(
        "GLOBAL_TAG_MAP",
        metadata,
        Column("GLOBAL_TAG_NAME", String(4000), primary_key=True),
        Column("RECORD", String(4000), primary_key=True),
        Column("LABEL", String(4000), primary_key=True),
        Column("TAG_NAME", String(4000), nullable=False),
    )
    return CondDbTables(metadata, tag, iov, payload, global_tag_map)
