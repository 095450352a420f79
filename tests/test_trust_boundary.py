"""What users type is data for Ansible, never code on the worker: templates stay text, connection settings
need an admin, the Ansible process inherits none of the app's secrets."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from app.ansible.runner import RunSpec, run_playbook
from app.ansible.variables import MASK, as_data, connection_vars, looks_secret, mask_text, masked, secret_values

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


def test_it_marks_values_not_names_as_data():
    data = as_data({"a": "{{ x }}", "n": 5, "l": ["{{ y }}", {"b": "z"}]})
    assert type(data["a"]).__name__ == "Unsafe" and data["n"] == 5
    assert type(data["l"][0]).__name__ == "Unsafe" and type(data["l"][1]["b"]).__name__ == "Unsafe"
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
