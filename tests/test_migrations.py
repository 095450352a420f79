"""Migrations keep data: an upgrade of a SQLite file with rows in every table loses none of them."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys

from tests.services import ROOT

ROWS = [
    "INSERT INTO users (id, username, password_hash, role, active, created_at)"
    " VALUES (1, 'ana', 'x', 'admin', 1, '2026-01-01')",
    "INSERT INTO audit_events (id, at, actor_id, actor, action, target, detail)"
    " VALUES (1, '2026-01-01', 1, 'ana', 'a', 't', '{}')",
    "INSERT INTO hosts (id, name, variables) VALUES (1, 'web-01', '{}')",
    "INSERT INTO groups (id, name, variables) VALUES (1, 'web', '{}')",
    "INSERT INTO host_groups (host_id, group_id) VALUES (1, 1)",
    "INSERT INTO jobs (id, kind, name, status, params, created_by_id, created_by, created_at, cancel_requested,"
    " allow_concurrent, soft_time_limit, time_limit) VALUES (1, 'vm', 'p', 'successful', '{}', 1, 'ana', '2026-01-01',"
    " 0, 0, 1, 2)",
    "INSERT INTO job_targets (id, job_id, kind, name) VALUES (1, 1, 'host', 'web-01')",
    "INSERT INTO job_lines (id, job_id, seq, at, event, text, failed) VALUES (1, 1, 1, '2026-01-01', 'x', 'hi', 0)",
    "INSERT INTO host_results (id, job_id, host, ok, changed, failed, unreachable, skipped, rescued, ignored)"
    " VALUES (1, 1, 'web-01', 1, 0, 0, 0, 0, 0, 0)",
    "INSERT INTO target_locks (key, job_id, acquired_at) VALUES ('host:web-01', 1, '2026-01-01')",
    "INSERT INTO providers (id, name, kind, uri, created_at)"
    " VALUES (1, 'local', 'libvirt', 'test:///default', '2026-01-01')",
    "INSERT INTO vms (id, name, provider_id, vcpus, memory_mib, disk_gib, state, last_job_id, created_at)"
    " VALUES (1, 'vm-1', 1, 1, 128, 1, 'running', 1, '2026-01-01')",
]


def flask_db(env: dict[str, str], *args: str) -> None:
    """Run `flask db ...` against the given environment."""
    cmd = [sys.executable, "-m", "flask", "--app", "wsgi", "db", *args]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def test_an_upgrade_keeps_every_row_and_every_link(service_env, tmp_path):
    path = tmp_path / "old.sqlite3"
    env = {**service_env, "DATABASE_URL": f"sqlite:///{path}"}
    flask_db(env, "upgrade", "0004")
    with sqlite3.connect(path) as db:
        for row in ROWS:
            db.execute(row)
    flask_db(env, "upgrade")
    with sqlite3.connect(path) as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        counts = {
            t: db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
            for t in tables
            if t not in ("alembic_version", "sqlite_sequence")
        }
        assert counts == dict.fromkeys(counts, 1)
        assert db.execute("SELECT created_by_id FROM jobs").fetchone() == (1,)
        assert db.execute("SELECT last_job_id, provider_id FROM vms").fetchone() == (1, 1)
        # every integer key is AUTOINCREMENT: a deleted row's id is never handed out again
        plain = [
            name
            for name, sql in db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
            if re.search(r"\bid INTEGER NOT NULL", sql) and "AUTOINCREMENT" not in sql
        ]
        assert plain == []
