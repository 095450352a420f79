"""Engine settings that differ per database."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine


def configure_engine(engine: Engine) -> None:
    """Turn on WAL, a busy timeout and foreign keys for every SQLite connection."""
    if engine.dialect.name != "sqlite":
        return

    @sa.event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=15000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()
