"""Hosts and groups in the UI, and importing an Ansible inventory with Ansible's own parser."""

from __future__ import annotations

import io

import sqlalchemy as sa

from app.extensions import db
from app.models import Group, Host

INI = """
[web]
web-01 ansible_host=10.0.0.11 ansible_user=deploy
web-02 ansible_host=10.0.0.12 ansible_port=2222

[db]
db-01 ansible_host=10.0.0.21

[prod:children]
web
db

[web:vars]
http_port=8080
"""

YAML = """
all:
  children:
    web:
      hosts:
        web-01: {ansible_host: 10.0.0.99, ansible_user: deploy}
        web-03: {ansible_host: 10.0.0.13}
"""


def hosts_and_groups(app) -> tuple[dict, dict]:
    """{host: (address, port, user, vars)}, {group: ([hosts], vars)} from the database."""
    with app.app_context():
        hosts = {h.name: (h.address, h.port, h.user, h.variables) for h in db.session.scalars(sa.select(Host))}
        groups = {g.name: ([h.name for h in g.hosts], g.variables) for g in db.session.scalars(sa.select(Group))}
    return hosts, groups


def test_it_imports_an_ini_inventory_with_groups_children_and_vars(app, auth):
    auth.login("operator")
    resp = auth.post("/inventory/import", {"text": INI})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Imported: 6 created, 0 updated, 0 unchanged." in page
    hosts, groups = hosts_and_groups(app)
    assert hosts["web-01"] == ("10.0.0.11", None, "deploy", {})
    assert hosts["web-02"] == ("10.0.0.12", 2222, None, {})
    assert groups["web"] == (["web-01", "web-02"], {"http_port": 8080})
    assert groups["prod"][0] == ["db-01", "web-01", "web-02"]


def test_it_reimports_idempotently_and_reports_changes(app, auth):
    auth.login("operator")
    auth.post("/inventory/import", {"text": INI})
    again = auth.post("/inventory/import", {"text": INI}).get_data(as_text=True)
    assert "Imported: 0 created, 0 updated, 6 unchanged." in again
    resp = auth.post(
        "/inventory/import", {"upload": (io.BytesIO(YAML.encode()), "hosts.yml")}, content_type="multipart/form-data"
    )
    page = resp.get_data(as_text=True)
    assert "Imported: 1 created, 2 updated, 0 unchanged." in page
    assert "host web-03" in page
    hosts, groups = hosts_and_groups(app)
    assert len(hosts) == 4 and hosts["web-01"][0] == "10.0.0.99"
    assert groups["web"][0] == ["web-01", "web-02", "web-03"]


def test_it_explains_an_inventory_it_cannot_parse(app, auth):
    auth.login("operator")
    resp = auth.post("/inventory/import", {"text": "[web\nweb-01 = = ="})
    assert resp.status_code == 400
    assert 'class="error"' in resp.get_data(as_text=True)
    assert hosts_and_groups(app) == ({}, {})


def test_it_creates_and_edits_a_host_with_yaml_variables(app, client, auth):
    auth.login("operator")
    resp = auth.post("/groups", {"name": "web"})
    assert resp.status_code == 302
    resp = auth.post(
        "/hosts",
        {
            "name": "web-01",
            "address": "10.0.0.1",
            "port": "22",
            "user": "deploy",
            "variables": "role: frontend\nweights: [1, 2]",
            "groups": ["web"],
        },
    )
    assert resp.status_code == 302
    host_url = resp.headers["Location"]
    hosts, groups = hosts_and_groups(app)
    assert hosts["web-01"] == ("10.0.0.1", 22, "deploy", {"role": "frontend", "weights": [1, 2]})
    assert groups["web"][0] == ["web-01"]
    page = client.get(host_url).get_data(as_text=True)
    assert "role: frontend" in page and "Run a playbook on web-01" in page
    resp = auth.post(host_url, {"name": "web-01", "variables": "role: [unclosed"})
    assert resp.status_code == 400 and "Variables: invalid YAML/JSON on line 1" in resp.get_data(as_text=True)
    assert hosts_and_groups(app)[0]["web-01"][3] == {"role": "frontend", "weights": [1, 2]}


def test_it_refuses_duplicate_and_invalid_names(app, auth):
    auth.login("operator")
    auth.post("/hosts", {"name": "web-01"})
    resp = auth.post("/hosts", {"name": "web-01"})
    assert resp.status_code == 400 and "Another host has that name." in resp.get_data(as_text=True)
    resp = auth.post("/hosts", {"name": "bad name"})
    assert resp.status_code == 400 and "Host names have no spaces" in resp.get_data(as_text=True)
    resp = auth.post("/groups", {"name": "9lives"})
    assert resp.status_code == 400 and "not starting with a digit" in resp.get_data(as_text=True)
    resp = auth.post("/groups", {"name": "all"})
    assert resp.status_code == 400 and "Ansible&#39;s own groups" in resp.get_data(as_text=True)


def test_viewers_see_but_cannot_change_the_inventory(app, client, auth):
    auth.login("viewer")
    assert client.get("/hosts").status_code == 200
    assert auth.post("/hosts", {"name": "web-01"}).status_code == 403
    assert client.get("/inventory/import").status_code == 403
    assert hosts_and_groups(app) == ({}, {})


def test_it_deletes_a_host_and_audits_it(app, auth):
    from app.models import AuditEvent

    auth.login("operator")
    host_url = auth.post("/hosts", {"name": "old-01"}).headers["Location"]
    resp = auth.post(host_url + "/delete")
    assert resp.status_code == 302
    assert hosts_and_groups(app)[0] == {}
    with app.app_context():
        actions = list(db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions[-2:] == ["host.save", "host.delete"]


def test_viewers_cannot_delete_hosts_or_groups(app, auth):
    auth.login("operator")
    host_url = auth.post("/hosts", {"name": "keep-01"}).headers["Location"]
    group_url = auth.post("/groups", {"name": "keepers"}).headers["Location"]
    auth.post("/logout")
    auth.login("viewer")
    assert auth.post(host_url + "/delete").status_code == 403
    assert auth.post(group_url + "/delete").status_code == 403
    hosts, groups = hosts_and_groups(app)
    assert "keep-01" in hosts and "keepers" in groups
