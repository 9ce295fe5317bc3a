"""Database tables of the infrastructure layer: the ingest journal and stream state checkpoints.

Used in the single-box mode, where the embedded broker keeps nothing across a restart and the
SQL database is the durable record (docs/streaming.md):

* ``JournalRecord``: every event acknowledged by ingest, written in the transaction that answers
  202; relayed to the broker in ``seq`` order. ``seq`` only ever grows (AUTOINCREMENT on SQLite,
  a sequence on PostgreSQL), so pruning old rows never lets a new row reuse an old position.
* ``StreamStateRecord``: the latest value of every key of a changelogged stream table (the
  ``customer_state`` changelog), exactly the bytes the changelog carried.
* ``StreamPositionRecord``: per partition, the journal position those states include: every
  journal row at or below it (of that partition) is folded into them.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from infra.database import UtcDateTime

# BIGINT on PostgreSQL; SQLite's rowid alias must be spelled INTEGER.
SEQUENCE_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class JournalRecord(SQLModel, table=True):
    """One acknowledged record waiting for (or already through) the relay."""

    __tablename__ = "ingest_journal"
    __table_args__ = {"sqlite_autoincrement": True}

    seq: int | None = Field(default=None, sa_column=sa.Column(SEQUENCE_TYPE, primary_key=True, autoincrement=True))
    topic: str = Field(sa_type=sa.String(255), nullable=False)
    key: bytes = Field(sa_type=sa.LargeBinary, nullable=False)
    payload: bytes = Field(sa_type=sa.LargeBinary, nullable=False)
    accepted_at: dt.datetime = Field(sa_type=UtcDateTime, nullable=False)


class StreamStateRecord(SQLModel, table=True):
    """The checkpointed value of one key of a changelogged table."""

    __tablename__ = "stream_states"

    changelog: str = Field(primary_key=True, sa_type=sa.String(255))
    key: bytes = Field(primary_key=True, sa_type=sa.LargeBinary)
    value: bytes = Field(sa_type=sa.LargeBinary, nullable=False)
    updated_at: dt.datetime = Field(sa_type=UtcDateTime, nullable=False)


class StreamPositionRecord(SQLModel, table=True):
    """The journal position a changelog's checkpointed states include, per partition."""

    __tablename__ = "stream_positions"

    changelog: str = Field(primary_key=True, sa_type=sa.String(255))
    partition: int = Field(primary_key=True, sa_type=sa.Integer)
    partitions: int = Field(sa_type=sa.Integer, nullable=False)  # the partition count it was taken with
    journal_seq: int = Field(sa_type=sa.BigInteger, nullable=False)
    updated_at: dt.datetime = Field(sa_type=UtcDateTime, nullable=False)
