"""What users type is data for Ansible, never code on the worker: templates stay text, connection settings
need an admin, the Ansible process inherits none of the app's secrets."""

from __future__ import annotations

import html
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.ansible.runner import RunSpec, run_playbook
from app.ansible.variables import MASK, as_data, connection_vars, looks_secret, mask_text, masked, secret_values
from app.extensions import db
from app.models import Host, HostResult, Job
from tests.jobs_helpers import add_hosts, job_record, job_text, latest_job_id, run_form, wait_status

LOCAL = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}


def run(tmp_path: Path, tasks: str, extra_vars=None, host_vars=None) -> str:
    """Run a one-task-list playbook on localhost; return all output."""
    book = tmp_path / "play.yml"
    book.write_text(f"- hosts: all\n  gather_facts: false\n  tasks:\n{tasks}")
    spec = RunSpec(
        playbook_path=str(book),
        inventory={"all": {"hosts": {"box": {**LOCAL, **(host_vars or {})}}}},
        extra_vars=extra_vars or {},
    )
    out: list[str] = []
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    result = run_playbook(spec, str(work), lambda batch: out.extend(e["stdout"] for e in batch), lambda: False)
    assert result.status == "successful", "\n".join(out)
    return "\n".join(out)


SHOW = "    - ansible.builtin.debug:\n        msg: 'value=[{{ %s }}]'\n"


def test_a_template_in_an_extra_var_stays_text(tmp_path):
    marker = tmp_path / "pwned"
    attack = f"{{{{ lookup('pipe', 'touch {marker}; echo 127.0.0.2') }}}}"
    out = run(tmp_path, SHOW % "target", extra_vars={"target": attack, "nested": {"list": [attack]}})
    assert "lookup('pipe'" in out  # printed as the text it is
    assert not marker.exists()


def test_a_template_in_a_host_variable_stays_text(tmp_path):
    marker = tmp_path / "pwned"
    out = run(tmp_path, SHOW % "owner", host_vars={"owner": f"{{{{ lookup('pipe', 'touch {marker}') }}}}"})
    assert "lookup('pipe'" in out and not marker.exists()


def test_ansible_inherits_none_of_the_apps_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "the-web-session-key")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:hunter2@db/app")
    monkeypatch.setenv("LANG", "C.UTF-8")
    tasks = "".join(SHOW % f'lookup("env", "{name}")' for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "LANG"))
    out = run(tmp_path, tasks)
    assert "the-web-session-key" not in out and "hunter2" not in out and "redis://" not in out
    assert "value=[C.UTF-8]" in out  # harmless basics still pass


@pytest.mark.parametrize(
    "name",
    ["ansible_connection", "ansible_ssh_common_args", "ansible_become_exe", "ANSIBLE_python_interpreter", "ansible_x"],
)
def test_it_names_every_connection_and_privilege_variable(name):
    assert connection_vars({name: "x", "service_name": "nginx"}) == [name]


def test_plain_strings_keep_their_type_through_ansible(tmp_path):
    out = run(tmp_path, SHOW % "v | type_debug" + SHOW % "v", extra_vars={"v": "600.938000"})
    assert "value=[str]" in out and "value=[600.938000]" in out
    out = run(tmp_path, SHOW % "w | type_debug", extra_vars={"w": "yes"})
    assert "value=[str]" in out


def test_it_marks_values_not_names_as_data():
    data = as_data({"a": "{{ x }}", "n": 5, "l": ["{{ y }}", {"b": "{% z %}", "c": "plain"}]})
    assert type(data["a"]).__name__ == "Unsafe" and data["n"] == 5
    assert type(data["l"][0]).__name__ == "Unsafe" and type(data["l"][1]["b"]).__name__ == "Unsafe"
    assert type(data["l"][1]["c"]) is str
    assert all(type(key) is str for key in data)


def test_it_masks_values_under_secret_looking_names():
    variables = {"db_password": "hunter22", "api_token": "abcd1234", "service_name": "nginx", "db": {"pass": "s3cret"}}
    assert [looks_secret(name) for name in ("ssh_key", "vault-secret", "monkey", "service_name")] == [
        True,
        True,
        False,
        False,
    ]
    assert masked(variables) == {"db_password": MASK, "api_token": MASK, "service_name": "nginx", "db": {"pass": MASK}}
    assert mask_text("login with hunter22 and s3cret", secret_values(variables)) == f"login with {MASK} and {MASK}"


ROOT = Path(__file__).resolve().parent.parent


def run_shipped(tmp_path: Path, name: str, extra_vars: dict) -> tuple[str, str]:
    """Run one of the shipped playbooks on localhost; (status, output)."""
    spec = RunSpec(
        playbook_path=str(ROOT / "playbooks" / name),
        inventory={"all": {"hosts": {"box": LOCAL}}},
        extra_vars=extra_vars,
    )
    out: list[str] = []
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    result = run_playbook(spec, str(work), lambda batch: out.extend(e["stdout"] for e in batch), lambda: False)
    return result.status, "\n".join(out)


def test_the_disk_usage_playbook_takes_a_number_not_a_command(tmp_path):
    marker = tmp_path / "pwned"
    status, out = run_shipped(tmp_path, "disk_usage.yml", {"max_percent": f'90 }} {{ system("touch {marker}") }} {{'})
    assert status == "failed" and "max_percent must be a whole number" in out and not marker.exists()
    status, out = run_shipped(tmp_path, "disk_usage.yml", {"max_percent": 100})
    assert status == "successful", out


def test_the_restart_playbook_takes_a_unit_name_not_arguments(tmp_path):
    status, out = run_shipped(tmp_path, "restart_service.yml", {"service_name": "nginx --now; id"})
    assert status == "failed" and "service_name to a unit name" in out


# Through the app: the same rules at every door (run form, relaunch, retry, inventory forms and import).


def test_an_operator_may_not_pass_connection_settings_but_an_admin_may(app, auth):

    add_hosts(app, "web-01")
    auth.login("operator")
    resp = auth.post("/run", run_form(hosts=["web-01"], extra_vars="ansible_connection: local\nmessage: hi"))
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "ansible_connection is a connection or privilege setting" in page
    assert latest_job_id(app) is None
    auth.client.post("/logout", data={"csrf_token": auth.csrf("/")})
    auth.login("admin")
    resp = auth.post("/run", run_form(hosts=["web-01"], extra_vars="ansible_ssh_common_args: -o Foo=bar"))
    assert resp.status_code == 302 and latest_job_id(app) is not None


def test_an_operator_cannot_relaunch_an_admins_connection_settings(app, auth):

    with app.app_context():
        params = {"playbook": "tests/echo.yml", "extra_vars": {"ansible_connection": "local"}}
        job = job_record(created_by="admin", status="successful", params=params)
        db.session.add(job)
        db.session.commit()
        job_id = job.id
    auth.login("operator")
    resp = auth.post(f"/jobs/{job_id}/relaunch", follow_redirects=True)
    assert "ansible_connection is a connection or privilege setting" in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(Job.id).order_by(Job.id.desc())) == job_id


def test_retry_refuses_a_host_whose_name_ansible_would_read_as_a_file(app, auth):

    with app.app_context():
        job = job_record(status="failed")
        job.host_results = [HostResult(host="@/etc/hostname", failed=1)]
        db.session.add(job)
        db.session.commit()
        job_id = job.id
    auth.login("operator")
    resp = auth.post(f"/jobs/{job_id}/retry-failed", follow_redirects=True)
    assert "has characters Ansible reads as a pattern" in resp.get_data(as_text=True)
    resp = auth.post("/run", {"playbook": "tests/echo.yml", "target": "all", "forks": "5", "limit": "@/etc/hostname"})
    assert resp.status_code == 400 and "Limit: use host names or patterns" in resp.get_data(as_text=True)


@pytest.mark.parametrize("name", ["@etc", "a:b", "web*", "x!y", "a/b", "bad\u202ename", "nul\x01l"])
def test_host_names_cannot_carry_pattern_syntax(app, auth, name):
    auth.login("operator")
    resp = auth.post("/hosts", {"name": name})
    assert resp.status_code == 400 and "Host names have no spaces" in resp.get_data(as_text=True)


def test_an_operator_keeps_but_cannot_change_an_admins_connection_settings(app, auth):

    with app.app_context():
        host = Host(name="web-01", variables={"ansible_user": "deploy", "env": "prod"})
        db.session.add(host)
        db.session.commit()
        host_id = host.id
    auth.login("operator")
    keep = auth.post(f"/hosts/{host_id}", {"name": "web-01", "variables": "ansible_user: deploy\nenv: staging"})
    assert keep.status_code == 302
    change = auth.post(f"/hosts/{host_id}", {"name": "web-01", "variables": "ansible_user: root\nenv: staging"})
    assert change.status_code == 400 and "ansible_user is a connection or privilege setting" in change.get_data(
        as_text=True
    )
    add = auth.post("/hosts", {"name": "web-02", "variables": "ansible_python_interpreter: /tmp/x"})
    assert add.status_code == 400
    with app.app_context():
        assert db.session.get(Host, host_id).variables == {"ansible_user": "deploy", "env": "staging"}
        assert Host.query is not None and db.session.scalar(sa.select(Host).where(Host.name == "web-02")) is None


@pytest.mark.parametrize(
    "text,message",
    [
        ("[web]\nweb-01 ansible_connection=local\n", "Host web-01: ansible_connection is a connection"),
        ("[web]\nweb-01 ansible_port=abc\n", "ansible_port must be a whole number from 1 to 65535, not 'abc'"),
        ("[web]\nweb-01 ansible_port=123456789012345678901\n", "ansible_port must be a whole number"),
        ("[web]\nweb-01 ansible_port=70000\n", "ansible_port must be a whole number"),
        ("[web-servers]\nweb-01\n", "Invalid group name 'web-servers'"),
    ],
)
def test_import_applies_the_forms_rules_and_writes_nothing_it_refuses(app, auth, text, message):

    auth.login("operator")
    resp = auth.post("/inventory/import", {"text": text})
    assert resp.status_code == 400 and message in html.unescape(resp.get_data(as_text=True))
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Host.id))) == 0


def test_only_catalogue_entries_can_be_viewed(app, auth, service_env):
    secrets = Path(service_env["PLAYBOOKS_DIR"]) / "group_vars" / "all"
    secrets.mkdir(parents=True, exist_ok=True)
    (secrets / "secrets.yml").write_text("db_password: hunter2\n")
    auth.login("viewer")
    resp = auth.client.get("/playbooks/group_vars/all/secrets.yml")
    assert resp.status_code == 404 and "hunter2" not in resp.get_data(as_text=True)


def test_secret_looking_extra_vars_are_masked_on_the_job_page_and_in_the_log(app, auth, worker):

    add_hosts(app, "web-01")
    auth.login("operator")
    extra = "db_password: hunter2-xyz\nmessage: connecting with hunter2-xyz"
    assert auth.post("/run", run_form(hosts=["web-01"], extra_vars=extra)).status_code == 302
    job = wait_status(app, latest_job_id(app))
    assert job.status == "successful"
    text = job_text(app, job.id)
    assert "connecting with ********" in text and "hunter2" not in text
    page = auth.client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert "hunter2" not in page and "********" in page
