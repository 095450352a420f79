"""How fast does a cancel land, and do a group's hosts really run side by side? Measured on
app.ansible.runner.run_playbook itself (what the worker calls), against localhost (ansible_connection=local):
no broker, no SQL, so the numbers are the runner's own.

  cancel    a run is told to stop as soon as its `sleep 30` task has started; measured: the time from that
            request to run_playbook returning (ansible-playbook and the sleep gone). Baseline: the plain time
            of the same playbook with `sleep 0`, start to end, i.e. what any run costs. Stopping waits up to
            GRACE_SECONDS (5 s) for ansible-playbook to exit on SIGTERM before killing it: a cancel near
            5 s means the SIGTERM was not enough.
  parallel  three hosts sleeping 2 s each (forks 5) against one host sleeping 2 s (the baseline): near 1.0
            when the hosts overlap, near 3.0 when they run one after another, which the `serial` row
            (three hosts, forks 1) shows for contrast.

Run with `.venv/bin/python bench/bench_ansible_runs.py [rounds]` (default 5; a round takes about 20 s). Rounds
are interleaved so load drift hits every row alike. It prints medians and the ratio of each to its baseline;
the numbers also land in bench/results/ansible_runs.json.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.ansible.processes import GRACE_SECONDS  # noqa: E402
from app.ansible.runner import RunSpec, run_playbook  # noqa: E402

LOCAL = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}


def write_playbook(folder: Path, name: str, seconds: float) -> str:
    """A one-task playbook (hosts: all, no facts) that sleeps `seconds`; returns its path."""
    path = folder / name
    path.write_text(
        textwrap.dedent(f"""\
            - hosts: all
              gather_facts: false
              tasks:
                - name: sleep
                  command: sleep {seconds}
        """)
    )
    return str(path)


def inventory(hosts: int) -> dict[str, Any]:
    """`hosts` local hosts."""
    return {"all": {"hosts": {f"h{i}": dict(LOCAL) for i in range(1, hosts + 1)}}}


def run(spec: RunSpec, on_events: Callable[[list[dict[str, Any]]], None] = lambda batch: None, **kw: Any) -> str:
    """run_playbook in a fresh work dir; returns the result's status."""
    with tempfile.TemporaryDirectory(prefix="opsdash-bench-job-") as work_dir:
        return run_playbook(spec, work_dir, on_events, kw.get("should_cancel", lambda: False)).status


def plain(spec: RunSpec) -> float:
    """Seconds for a run that goes to its end (which must be successful)."""
    start = time.perf_counter()
    status = run(spec)
    elapsed = time.perf_counter() - start
    assert status == "successful", status
    return elapsed


def cancel_latency(book: str) -> float:
    """Seconds from asking to cancel (once the sleep task started) to run_playbook returning."""
    asked: list[float] = []

    def on_events(batch: list[dict[str, Any]]) -> None:
        if not asked and any(e["event"] == "runner_on_start" and e["task"] == "sleep" for e in batch):
            asked.append(time.perf_counter())

    status = run(RunSpec(book, inventory(1)), on_events, should_cancel=lambda: bool(asked))
    stopped = time.perf_counter()
    assert status == "canceled" and asked, status
    return stopped - asked[0]


def main(rounds: int) -> None:
    """Measure every row, interleaved round by round; print medians and ratios; keep the numbers."""
    folder = Path(tempfile.mkdtemp(prefix="opsdash-bench-books-"))
    zero, long, two = (write_playbook(folder, f"{n}.yml", s) for n, s in (("zero", 0), ("long", 30), ("two", 2)))
    samples: dict[str, list[float]] = {k: [] for k in ("plain", "cancel", "one", "three", "serial")}
    for _ in range(rounds):
        samples["plain"].append(plain(RunSpec(zero, inventory(1))))
        samples["cancel"].append(cancel_latency(long))
        samples["one"].append(plain(RunSpec(two, inventory(1), forks=5)))
        samples["three"].append(plain(RunSpec(two, inventory(3), forks=5)))
        samples["serial"].append(plain(RunSpec(two, inventory(3), forks=1)))
    med = {k: statistics.median(v) * 1000 for k, v in samples.items()}
    rows = [
        ("cancel", "plain run (sleep 0)", "plain", "cancel -> stopped", "cancel"),
        ("parallel", "1 host, sleep 2", "one", "3 hosts, forks 5", "three"),
        ("serial", "1 host, sleep 2", "one", "3 hosts, forks 1", "serial"),
    ]
    print(f"{rounds} rounds, interleaved; medians (cancel grace: {GRACE_SECONDS:.0f} s)")
    print(f"{'':10}{'baseline':>22}{'ms':>8}{'measured':>20}{'ms':>8}{'ratio':>8}")
    for label, base_name, base, what, key in rows:
        print(f"{label:10}{base_name:>22}{med[base]:8.0f}{what:>20}{med[key]:8.0f}{med[key] / med[base]:8.2f}")
    print(f"slowest cancel: {max(samples['cancel']) * 1000:.0f} ms")
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "ansible_runs.json").write_text(
        json.dumps({"rounds": rounds, "median_ms": med, "samples_s": samples}, indent=2) + "\n"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
