"""Who may do what: every route and method of the URL map against an explicit table, for every role.

The table names the least role allowed for each (rule, method). A route added without an entry, or an entry
left behind by a removed route, fails `test_it_has_an_entry_for_every_route_and_a_route_for_every_entry`.
Below that role a logged-in user gets 403 and a visitor without a session is sent to the login page (the app
answers no 401 for missing logins); at or above it, anything but those (200, 302 elsewhere, 400 for an empty
form, 404...) except a server error, unless it is a service reported down (/healthz 503, /flower/ 502 with no
Flower running). Every POST carries a valid CSRF token, so what is checked is the role, not the token."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import VM, Group, Host, HostResult, Provider, User
from tests.conftest import CSRF_RE, PASSWORD
from tests.jobs_helpers import add_hosts, job_record
from tests.services import free_port

ROLES = ("anonymous", "viewer", "operator", "admin")
RANK = {role: rank for rank, role in enumerate(ROLES)}

EXPECTED: dict[tuple[str, str], str] = {
    # Open to anyone.
    ("/healthz", "GET"): "anonymous",
    ("/login", "GET"): "anonymous",
    ("/login", "POST"): "anonymous",
    # Any logged-in user: reading, and logging out.
    ("/", "GET"): "viewer",
    ("/logout", "POST"): "viewer",
    ("/hosts", "GET"): "viewer",
    ("/hosts/<int:host_id>", "GET"): "viewer",
    ("/groups", "GET"): "viewer",
    ("/groups/<int:group_id>", "GET"): "viewer",
    ("/playbooks", "GET"): "viewer",
    ("/playbooks/<path:name>", "GET"): "viewer",
    ("/jobs/", "GET"): "viewer",
    ("/jobs/<int:job_id>", "GET"): "viewer",
    ("/jobs/<int:job_id>/tail", "GET"): "viewer",
    ("/jobs/<int:job_id>/earlier", "GET"): "viewer",
    ("/vms", "GET"): "viewer",
    ("/vms/<int:vm_id>", "GET"): "viewer",
    ("/workers", "GET"): "viewer",
    # Operators: inventory, runs, job actions, VM actions.
    ("/hosts", "POST"): "operator",
    ("/hosts/<int:host_id>", "POST"): "operator",
    ("/hosts/<int:host_id>/delete", "POST"): "operator",
    ("/groups", "POST"): "operator",
    ("/groups/<int:group_id>", "POST"): "operator",
    ("/groups/<int:group_id>/delete", "POST"): "operator",
    ("/inventory/import", "GET"): "operator",
    ("/inventory/import", "POST"): "operator",
    ("/run", "GET"): "operator",
    ("/run", "POST"): "operator",
    ("/jobs/<int:job_id>/cancel", "POST"): "operator",
    ("/jobs/<int:job_id>/relaunch", "POST"): "operator",
    ("/jobs/<int:job_id>/retry-failed", "POST"): "operator",
    ("/vms/new", "GET"): "operator",
    ("/vms/new", "POST"): "operator",
    ("/vms/<int:vm_id>/<action>", "GET"): "operator",
    ("/vms/<int:vm_id>/<action>", "POST"): "operator",
    # Admins: users, hypervisors, the audit log, Flower.
    ("/users", "GET"): "admin",
    ("/users", "POST"): "admin",
    ("/users/<int:user_id>", "GET"): "admin",
    ("/users/<int:user_id>", "POST"): "admin",
    ("/providers", "GET"): "admin",
    ("/providers", "POST"): "admin",
    ("/audit", "GET"): "admin",
    ("/flower/", "GET"): "admin",
    ("/flower/", "POST"): "admin",
    ("/flower/<path:path>", "GET"): "admin",
    ("/flower/<path:path>", "POST"): "admin",
}
# Services the app reports on may be down in the test: that answer still comes from behind the role check.
MAY_BE_DOWN = {("/healthz", 503), ("/flower/", 502), ("/flower/<path:path>", 502)}
# Changing this number is a decision to show in review: the table may not shrink unnoticed.
CELLS = 46

PLACEHOLDER = re.compile(r"<(?:[a-z]+:)?(\w+)>")


def route_cells(app) -> set[tuple[str, str]]:
    """Every (rule, method) the app serves, static files and HEAD/OPTIONS aside."""
    return {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }


def seed(app) -> dict[str, str]:
    """One of each resource the URLs name; maps each URL placeholder to a real value."""
    add_hosts(app, "matrix-01", group="matrix")
    with app.app_context():
        user = User(username="dana", role="viewer")
        user.set_password(PASSWORD)
        provider = Provider(name="local", uri="test:///default")
        vm = VM(name="matrix-vm", provider=provider, vcpus=1, memory_mib=256, disk_gib=1, state="stopped")
        job = job_record(status="failed")
        job.host_results = [HostResult(host="matrix-01", failed=1)]
        db.session.add_all([user, vm, job])
        db.session.commit()
        return {
            "host_id": str(db.session.scalar(sa.select(Host.id).where(Host.name == "matrix-01"))),
            "group_id": str(db.session.scalar(sa.select(Group.id).where(Group.name == "matrix"))),
            "user_id": str(user.id),
            "job_id": str(job.id),
            "vm_id": str(vm.id),
            "action": "start",
            "name": "tests/echo.yml",
            "path": "workers",
        }


def url_for_rule(rule: str, values: dict[str, str]) -> str:
    """The rule with each placeholder replaced by its seeded value."""
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], rule)


def request_order(cell: tuple[str, str]) -> tuple[int, str, str]:
    """Reads first, then changes, deletions after those, and logging out last (it ends the session)."""
    rule, method = cell
    rank = 0 if method == "GET" else 3 if rule == "/logout" else 2 if rule.endswith("/delete") else 1
    return rank, rule, method


def sent_to_login(resp, url: str) -> bool:
    """Flask-Login's refusal: a redirect to the login page, to come back to `url` after it.

    (Logging out also ends on the login page, but without a way back.)"""
    if resp.status_code not in (301, 302, 303, 307, 308):
        return False
    target = urlsplit(resp.headers["Location"])
    return target.path == "/login" and parse_qs(target.query).get("next") == [url]


def verdict(role: str, cell: tuple[str, str], url: str, resp) -> str | None:
    """What is wrong with this answer to `cell` for this role, or None."""
    code, least = resp.status_code, EXPECTED[cell]
    if RANK[role] < RANK[least]:
        if role == "anonymous":
            return None if sent_to_login(resp, url) else f"got {code}, expected a redirect to /login?next={url}"
        return None if code == 403 else f"got {code}, expected 403"
    if code in (401, 403) or sent_to_login(resp, url):
        where = f" to {resp.headers['Location']}" if "Location" in resp.headers else ""
        return f"got {code}{where}, expected to be let in"
    if code >= 500 and (cell[0], code) not in MAY_BE_DOWN:
        return f"got {code}: a server error"
    return None


def csrf_token(client, role: str) -> str:
    """This session's CSRF token, read from a page as a browser would."""
    page = client.get("/login" if role == "anonymous" else "/").get_data(as_text=True)
    match = CSRF_RE.search(page)
    assert match, f"no CSRF token for {role}"
    return match.group(1) or match.group(2)


def with_token(token: str) -> dict[str, dict[str, str]]:
    """The CSRF token as each client sends it: forms in a field, htmx in X-CSRFToken, Flower in X-XSRFToken."""
    return {"data": {"csrf_token": token}, "headers": {"X-CSRFToken": token, "X-XSRFToken": token}}


@pytest.fixture
def no_flower(app, monkeypatch):
    """Point /flower/ at a port nothing listens on: admins get the app's 502 page, fast."""
    monkeypatch.setitem(app.config, "FLOWER_INTERNAL_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setitem(app.config, "FLOWER_BASIC_AUTH", "ops:not-used")


def test_it_has_an_entry_for_every_route_and_a_route_for_every_entry(app):
    cells = route_cells(app)
    missing = sorted(cells - EXPECTED.keys())
    stale = sorted(EXPECTED.keys() - cells)
    assert not missing and not stale, (
        f"routes with no entry in EXPECTED (say who may use them): {missing}; "
        f"entries in EXPECTED for routes that no longer exist: {stale}"
    )


def test_the_table_cannot_shrink_unnoticed(app):
    assert len(EXPECTED) == len(route_cells(app)) == CELLS
    assert set(EXPECTED.values()) == set(ROLES)  # every level is exercised, the open one included


@pytest.mark.parametrize("role", ROLES)
def test_it_lets_each_role_use_exactly_the_routes_the_table_gives_it(app, client, auth, no_flower, role):
    values = seed(app)
    if role != "anonymous":
        assert auth.login(role).status_code == 302
    token = csrf_token(client, role)
    violations, sent = [], 0
    for rule, method in sorted(EXPECTED, key=request_order):
        url = url_for_rule(rule, values)
        resp = client.open(url, method=method, **(with_token(token) if method == "POST" else {}))
        sent += 1
        problem = verdict(role, (rule, method), url, resp)
        if problem:
            violations.append(f"{method} {rule} as {role} (least role {EXPECTED[rule, method]}): {problem}")
    assert sent == len(EXPECTED) == CELLS
    assert not violations, "\n".join(violations)
