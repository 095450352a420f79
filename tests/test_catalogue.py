"""The playbook catalogue: only files inside PLAYBOOKS_DIR, with clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.ansible.catalogue import PlaybookError, list_playbooks, resolve


@pytest.fixture
def root(tmp_path):
    (tmp_path / "books" / "sub").mkdir(parents=True)
    (tmp_path / "books" / "site.yml").write_text("- hosts: all\n")
    (tmp_path / "books" / "sub" / "deep.yaml").write_text("- hosts: all\n")
    (tmp_path / "books" / "roles" / "x" / "tasks").mkdir(parents=True)
    (tmp_path / "books" / "roles" / "x" / "tasks" / "main.yml").write_text("- debug: {}\n")
    (tmp_path / "secret.yml").write_text("- hosts: all\n")
    (tmp_path / "books" / "link.yml").symlink_to(tmp_path / "secret.yml")
    (tmp_path / "books" / "inside-link.yml").symlink_to(tmp_path / "books" / "site.yml")
    return str(tmp_path / "books")


def test_it_lists_playbooks_but_not_roles_or_escaping_links(root):
    assert [p.name for p in list_playbooks(root)] == ["site.yml", "sub/deep.yaml"]


@pytest.mark.parametrize(
    "name,message",
    [
        ("../secret.yml", "points outside the playbooks folder"),
        ("sub/../../secret.yml", "points outside the playbooks folder"),
        ("link.yml", "points outside the playbooks folder"),
        ("/etc/passwd", "is not a playbook name"),
        ("~root/x.yml", "is not a playbook name"),
        ("", "is not a playbook name"),
        ("missing.yml", "There is no playbook"),
        ("sub", "is not a playbook (expected a .yml or .yaml file)"),
    ],
)
def test_it_refuses_names_that_escape_or_do_not_exist(root, name, message):
    with pytest.raises(PlaybookError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve(root, name)


def test_it_resolves_a_link_that_stays_inside(root):
    assert resolve(root, "inside-link.yml").name == "site.yml"
    assert len(resolve(root, "site.yml").sha256()) == 64


@pytest.mark.parametrize("name", ["group_vars/all/secrets.yml", ".hidden.yml", "roles/x/tasks/main.yml", "vault.yml"])
def test_it_serves_only_what_it_lists(root, name):
    books = Path(root)
    (books / "group_vars" / "all").mkdir(parents=True)
    (books / "group_vars" / "all" / "secrets.yml").write_text("db_password: hunter2\n")
    (books / ".hidden.yml").write_text("- hosts: all\n")
    (books / "vault.yml").symlink_to(books / "group_vars" / "all" / "secrets.yml")
    assert name not in [p.name for p in list_playbooks(root)]
    with pytest.raises(PlaybookError, match="There is no playbook"):
        resolve(root, name)
