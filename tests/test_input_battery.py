"""Bad input gets a clear 4xx, never a 500, and a refused request writes nothing: every form field and query
parameter is walked with oversized, unicode, control, negative, huge and malformed values."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import Group, Host, Job, JobTarget, Provider, User

HUGE = "9" * 25  # beyond 64 bits
BAD_VALUES = [
    "x" * 70_000,
    "ünïcødé ✓ 名前",
    "nul\x00byte",
    "bell\x07",
    "\u202eevil",
    "-1",
    HUGE,
    "{{ 7 * 7 }}",
    "@/etc/passwd",
    "[",
    "a: &x [1]\nb: *x",
    "when: 2024-01-01",
    "",
]
# Fields whose oversized or unprintable values must be refused (names, reasons, variables).
MUST_REFUSE = {
    ("/hosts", "name"),
    ("/hosts", "variables"),
    ("/hosts", "address"),
    ("/groups", "name"),
    ("/groups", "variables"),
    ("/run", "extra_vars"),
    ("/run", "reason"),
    ("/run", "limit"),
    ("/vms/new", "name"),
    ("/vms/new", "reason"),
    ("/providers", "name"),
    ("/providers", "uri"),
    ("/users", "username"),
    ("/inventory/import", "text"),
}


# What a running worker writes meanwhile (lines and results of jobs accepted earlier in the battery).
WORKER_TABLES = {"job_lines", "host_results", "target_locks"}


def row_count() -> int:
    """Rows in every table a request writes (a refused request may not change it)."""
    tables = [t for t in db.metadata.sorted_tables if t.name not in WORKER_TABLES]
    return sum(db.session.scalar(sa.select(sa.func.count()).select_from(t)) for t in tables)


def seed(app) -> dict[str, int]:
    """A host, a group, a hypervisor and a job to point forms at."""
    with app.app_context():
        host, group, provider = (
            Host(name="web-01", variables={}),
            Group(name="web", variables={}),
            Provider(name="local", uri="test:///default"),
        )
        job = Job(kind="playbook", name="tests/echo.yml", created_by="oper", soft_time_limit=60, time_limit=120)
        job.targets = [JobTarget(kind="host", name="web-01")]
        db.session.add_all([host, group, provider, job])
        db.session.commit()
        user = db.session.scalar(sa.select(User).where(User.username == "viewer"))
        return {"provider": provider.id, "job": job.id, "user": user.id, "host": host.id, "group": group.id}


def forms(ids: dict[str, int]) -> list[tuple[str, str, dict[str, str]]]:
    """(role, url, valid base data) of every form that changes state."""
    return [
        ("operator", "/hosts", {"name": "new-host", "address": "10.0.0.9", "port": "22", "user": "deploy"}),
        ("operator", f"/hosts/{ids['host']}", {"name": "web-01", "variables": "env: prod"}),
        ("operator", "/groups", {"name": "newgroup", "variables": ""}),
        ("operator", "/inventory/import", {"text": "[g]\nh-1\n", "filename": "hosts"}),
        (
            "operator",
            "/run",
            {"playbook": "tests/echo.yml", "target": "hosts", "hosts": "web-01", "forks": "5", "reason": "battery"},
        ),
        (
            "operator",
            "/vms/new",
            {"name": "vm-b", "provider": str(ids["provider"]), "vcpus": "1", "memory_mib": "512", "disk_gib": "1"},
        ),
        ("operator", f"/jobs/{ids['job']}/cancel", {"reason": "battery"}),
        ("admin", "/providers", {"name": "hv-b", "uri": "qemu:///system", "queue": ""}),
        ("admin", "/users", {"username": "newuser", "role": "viewer", "password": "a long enough password"}),
        ("admin", f"/users/{ids['user']}", {"role": "viewer", "active": "y", "reason": "battery"}),
    ]


def login_as(auth, role: str) -> None:
    """Log out whoever is in, log in as `role`."""
    if auth.client.get("/").status_code == 200:
        auth.client.post("/logout", data={"csrf_token": auth.csrf("/")})
    auth.login(role)


def test_every_form_field_refuses_bad_values_cleanly(app, auth):
    ids = seed(app)
    fields = {"/inventory/import": ["text", "filename"], f"/jobs/{ids['job']}/cancel": ["reason"]}
    problems: list[str] = []
    for role, url, base in forms(ids):
        login_as(auth, role)
        names = fields.get(url) or [*base, "reason", "variables", "extra_vars", "limit", "tags", "time_limit"]
        for field in dict.fromkeys(names):
            for value in BAD_VALUES:
                with app.app_context():
                    before = row_count()
                resp = auth.post(url, {**base, field: value})
                with app.app_context():
                    db.session.remove()
                    written = row_count() - before
                where = f"{url} {field}={value[:30]!r}"
                if resp.status_code >= 500:
                    problems.append(f"{where}: {resp.status_code}")
                elif resp.status_code >= 400 and written:
                    problems.append(f"{where}: refused ({resp.status_code}) but wrote {written} row(s)")
                elif (url, field) in MUST_REFUSE and value in (BAD_VALUES[0], BAD_VALUES[2], BAD_VALUES[4]):
                    if resp.status_code < 400:
                        problems.append(f"{where}: accepted ({resp.status_code})")
    assert problems == []


def test_ids_and_numbers_beyond_64_bits_are_not_found_or_refused(app, auth):
    ids = seed(app)
    login_as(auth, "admin")
    gets = [f"/jobs/{HUGE}", f"/hosts/{HUGE}", f"/groups/{HUGE}", f"/vms/{HUGE}", f"/users/{HUGE}"]
    gets += [f"/jobs/{HUGE}/tail", f"/jobs/{ids['job']}/tail?after={HUGE}", f"/jobs/{ids['job']}/earlier?before={HUGE}"]
    gets += [
        f"/jobs/?page={HUGE}",
        "/jobs/?page=-1",
        "/jobs/?page=abc",
        f"/audit?page={HUGE}",
        "/audit?since=2024-13-45",
    ]
    gets += [f"/jobs/{ids['job']}/tail?after=-5", f"/jobs/{ids['job']}/tail?after=１２"]
    statuses = {url: auth.client.get(url).status_code for url in gets}
    assert {url: code for url, code in statuses.items() if code >= 500} == {}
    assert statuses[f"/jobs/{HUGE}"] == 404 and statuses[f"/jobs/?page={HUGE}"] == 400
    posts = [f"/jobs/{HUGE}/cancel", f"/hosts/{HUGE}/delete", f"/groups/{HUGE}/delete", f"/jobs/{HUGE}/relaunch"]
    assert {url: auth.post(url).status_code for url in posts} == dict.fromkeys(posts, 404)


def test_unknown_query_arguments_on_a_polled_list_are_left_behind(app, auth):
    ids = seed(app)  # its job is queued, so the history rows poll
    login_as(auth, "viewer")
    for query in ("endpoint=x", "_method=POST", "fragment=rows&_external=1", "status=queued&_anchor=x&page=1"):
        resp = auth.client.get(f"/jobs/?{query}")
        assert resp.status_code == 200, query
        page = resp.get_data(as_text=True)
        assert "endpoint=x" not in page and "_method" not in page and "_external" not in page
        assert f"/jobs/{ids['job']}" in page
