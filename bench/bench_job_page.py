"""Does a long log keep the job page fast? The page and its live-log poll for a 20,000-line job, against the
same requests for a 500-line job (the baseline: the page shows the last 500 lines either way), in one process
on one throwaway SQLite file.

  page   GET /jobs/<id>                 (renders the last LOG_TAIL_LINES lines)
  poll   GET /jobs/<id>/tail?after=N    (the 1 s poll once the browser is up to date)
  burst  GET /jobs/<id>/tail?after=N-50 (a poll that brings 50 new lines)

Run with `.venv/bin/python bench/bench_job_page.py [rounds]`; it prints medians and the ratio of each to
the 500-line job's. No broker is contacted: the pages read SQL only.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_app():  # type: ignore[no-untyped-def]
    """An app on a fresh SQLite file, schema by the migrations, CSRF off for the bench client."""
    os.environ.update(VAR_DIR=tempfile.mkdtemp(prefix="opsdash-bench-"), REDIS_URL="redis://127.0.0.1:1/0")
    os.environ.pop("DATABASE_URL", None)
    from flask_migrate import upgrade

    from app import create_app

    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "MIGRATIONS_DIR": str(ROOT / "migrations")})
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
    return app


def add_job(app, lines: int) -> int:  # type: ignore[no-untyped-def]
    """A finished-looking running job with `lines` coloured log lines."""
    import sqlalchemy as sa

    from app.extensions import db
    from app.models import Job, JobLine

    with app.app_context():
        job = Job(
            kind="playbook",
            name="bench.yml",
            created_by="bench",
            soft_time_limit=60,
            time_limit=90,
            status="running",
            params={},
        )
        db.session.add(job)
        db.session.flush()
        rows = [
            {
                "job_id": job.id,
                "seq": i,
                "text": f"\x1b[0;32mok: [web-{i % 40:02d}]\x1b[0m line {i}\n",
                "event": "runner_on_ok",
                "failed": False,
            }
            for i in range(1, lines + 1)
        ]
        for start in range(0, len(rows), 5000):
            db.session.execute(sa.insert(JobLine), rows[start : start + 5000])
        db.session.commit()
        return job.id


def median_ms(client, url: str, rounds: int) -> float:  # type: ignore[no-untyped-def]
    """Median wall time of GET url over `rounds` requests, in milliseconds."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        resp = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert resp.status_code == 200, (url, resp.status_code)
    return statistics.median(times)


def main(rounds: int) -> None:
    """Measure both jobs and print the ratios."""
    app = make_app()
    with app.app_context():
        from app.extensions import db
        from app.models import User

        user = User(username="bench", role="viewer")
        user.set_password("bench-password")
        db.session.add(user)
        db.session.commit()
    small, large = add_job(app, 500), add_job(app, 20_000)
    client = app.test_client()
    client.post("/login", data={"username": "bench", "password": "bench-password"})
    print(f"{rounds} requests each; the 500-line job is the baseline")
    print(f"{'':8}{'500 lines ms':>14}{'20000 lines ms':>16}{'ratio':>8}")
    for label, path in (
        ("page", "/jobs/{id}"),
        ("poll", "/jobs/{id}/tail?after={last}&status=running"),
        ("burst", "/jobs/{id}/tail?after={burst}&status=running"),
    ):
        base = median_ms(client, path.format(id=small, last=500, burst=450), rounds)
        big = median_ms(client, path.format(id=large, last=20_000, burst=19_950), rounds)
        print(f"{label:8}{base:14.2f}{big:16.2f}{big / base:8.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
