"""`flask rq ...` (or any click group): RQ's monitoring commands for the RQ-compatible API."""

from __future__ import annotations

import click
from redis import Redis

from app.tasks.rq_compat import state
from app.tasks.rq_compat.overview import queue_overview

rq_cli = click.Group("rq", help="Inspect the RQ-compatible queues (jobs run on the Celery workers).")


@rq_cli.command("info")
@click.option("--url", "-u", default=None, help="Redis URL holding the RQ records (default: the one init_app got).")
@click.option("--raw", "-r", is_flag=True, help="One `queue NAME ...` line per queue, no summary (rq info --raw).")
@click.argument("queues", nargs=-1)
def info(url: str | None, raw: bool, queues: tuple[str, ...]) -> None:
    """Queue and registry counts, as `rq info` shows them."""
    url = url or state.first_redis_url()
    if url is None:
        raise click.UsageError("no --url given and init_app() was not called")
    rows = [row for row in queue_overview(Redis.from_url(url)) if not queues or row["name"] in queues]
    for row in rows:
        prefix = f"queue {row['name']}" if raw else f"{row['name']:<12}"
        click.echo(
            f"{prefix} {row['queued']}, {row['started']} executing, {row['finished']} finished, "
            f"{row['failed']} failed, {row['deferred']} deferred, {row['scheduled']} scheduled, "
            f"{row['canceled']} canceled"
        )
    if not raw:
        click.echo(f"{len(rows)} queues, {sum(row['queued'] for row in rows)} jobs total")
