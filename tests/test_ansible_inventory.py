"""Inventory parsing (ansible-core's own ini/yaml parsers) and building the run inventory."""

from __future__ import annotations

import textwrap

import pytest
import yaml

from app.ansible.inventory import InventoryError, build_inventory, parse_inventory

INI = textwrap.dedent("""
    lonely ansible_host=10.0.0.9

    [web]
    web1 ansible_host=10.0.0.1 http_port=8080
    web2 ansible_port=2222

    [db]
    db1 ansible_user=postgres primary=True

    [prod:children]
    web
    db

    [prod:vars]
    env=prod

    [all:vars]
    ntp=pool.ntp.org
""")

YAML = textwrap.dedent("""
    all:
      vars:
        ntp: pool.ntp.org
      hosts:
        lonely:
          ansible_host: 10.0.0.9
      children:
        prod:
          vars: {env: prod, replicas: 3}
          children:
            web:
              hosts:
                web[1:2]:
                  http_port: 8080
                  tags: [a, b]
            db:
              hosts:
                db1: {settings: {max_conn: 100}}
""")


def test_it_parses_ini_with_groups_children_and_vars():
    inv = parse_inventory(INI, "hosts.ini")
    assert set(inv["hosts"]) == {"lonely", "web1", "web2", "db1"}
    assert inv["hosts"]["web1"]["vars"] == {"ansible_host": "10.0.0.1", "http_port": 8080}
    assert inv["hosts"]["web2"]["vars"] == {"ansible_port": 2222}
    assert inv["hosts"]["db1"]["vars"] == {"ansible_user": "postgres", "primary": True}
    assert inv["groups"]["web"] == {"hosts": ["web1", "web2"], "vars": {}, "children": []}
    assert inv["groups"]["prod"] == {"hosts": [], "vars": {"env": "prod"}, "children": ["web", "db"]}
    assert "all" not in inv["groups"] and "ungrouped" not in inv["groups"]
    assert all("ntp" not in h["vars"] for h in inv["hosts"].values())  # all-level vars left out


def test_it_parses_yaml_with_ranges_nested_children_and_vars():
    inv = parse_inventory(YAML, "inventory.yml")
    assert set(inv["hosts"]) == {"lonely", "web1", "web2", "db1"}
    assert inv["hosts"]["web2"]["vars"] == {"http_port": 8080, "tags": ["a", "b"]}
    assert inv["hosts"]["db1"]["vars"] == {"settings": {"max_conn": 100}}
    assert inv["groups"]["prod"] == {"hosts": [], "vars": {"env": "prod", "replicas": 3}, "children": ["web", "db"]}
    assert inv["groups"]["web"]["hosts"] == ["web1", "web2"]


def test_it_returns_plain_python_values():
    inv = parse_inventory(YAML, "inventory.yml")
    value = inv["hosts"]["web1"]["vars"]["tags"]
    assert type(value) is list and all(type(v) is str for v in value)  # not ansible's tagged types
    assert type(inv["groups"]["prod"]["vars"]["env"]) is str


@pytest.mark.parametrize("text", [INI, YAML])
def test_it_detects_the_format_without_a_suffix(text):
    inv = parse_inventory(text)
    assert inv["groups"]["prod"]["children"] == ["web", "db"]


@pytest.mark.parametrize(
    "text, hint, message",
    [
        ("[web]\nweb1 this is not=valid\n", "hosts.ini", "Expected key=value"),
        ("[web:children]\nmissing\n", "hosts", "undefined group 'missing'"),
        ("all:\n  hosts: [a, b]\n", "hosts.yml", "'hosts' of group 'all' must be a mapping"),
        ("webservers: just a string\n", "hosts", "group 'webservers' must be a mapping"),
        ("all:\n  hostz:\n    a:\n", "hosts.yaml", "unexpected key(s) hostz"),
        ("all:\n  hosts: {a: [\n", "hosts.yml", "line 3"),
        ("\x00\x01\x02garbage", "hosts", "binary or control characters"),
    ],
)
def test_it_raises_a_clear_error_for_garbage(text, hint, message):
    with pytest.raises(InventoryError) as err:
        parse_inventory(text, hint)
    assert message in str(err.value)
    assert "/tmp" not in str(err.value)  # no temp-file paths leak into the message


def test_it_rejects_vault_encrypted_values():
    text = "all:\n  hosts:\n    h:\n      secret: !vault |\n        $ANSIBLE_VAULT;1.1;AES256\n        3132\n"
    with pytest.raises(InventoryError, match="Vault-encrypted"):
        parse_inventory(text, "hosts.yml")


def test_it_parses_an_empty_inventory():
    assert parse_inventory("") == {"hosts": {}, "groups": {}}


def test_it_builds_a_yaml_inventory_dict():
    hosts = [
        {"name": "web1", "address": "10.0.0.1", "port": 2222, "user": "deploy", "vars": {"role": "web"}},
        {"name": "db1", "address": "10.0.0.2", "port": None, "user": None, "vars": {}},
    ]
    inv = build_inventory(hosts, {"web": ["web1"], "everything": ["web1", "db1"]})
    assert inv == {
        "all": {
            "hosts": {
                "web1": {"role": "web", "ansible_host": "10.0.0.1", "ansible_port": 2222, "ansible_user": "deploy"},
                "db1": {"ansible_host": "10.0.0.2"},
            },
            "children": {
                "web": {"hosts": {"web1": None}},
                "everything": {"hosts": {"web1": None, "db1": None}},
            },
        }
    }


def test_it_round_trips_a_built_inventory_through_the_parser():
    hosts = [{"name": "web1", "address": "10.0.0.1", "port": 22, "vars": {"x": [1, 2]}}]
    parsed = parse_inventory(yaml.safe_dump(build_inventory(hosts, {"web": ["web1"]})), "hosts.yml")
    assert parsed["hosts"]["web1"]["vars"] == {"x": [1, 2], "ansible_host": "10.0.0.1", "ansible_port": 22}
    assert parsed["groups"]["web"]["hosts"] == ["web1"]


@pytest.mark.parametrize(
    "groups, message",
    [
        ({"web-servers": ["h1"]}, "Invalid group name"),
        ({"1web": ["h1"]}, "Invalid group name"),
        ({"all": ["h1"]}, "reserved"),
        ({"web": ["nope"]}, "unknown host"),
    ],
)
def test_it_rejects_bad_groups(groups, message):
    with pytest.raises(InventoryError, match=message):
        build_inventory([{"name": "h1", "address": "127.0.0.1"}], groups)


@pytest.mark.parametrize(
    "hosts, message",
    [
        ([{"name": "bad name", "address": "x"}], "Invalid host name"),
        ([{"name": "h1", "address": "x"}, {"name": "h1", "address": "y"}], "Duplicate host"),
    ],
)
def test_it_rejects_bad_hosts(hosts, message):
    with pytest.raises(InventoryError, match=message):
        build_inventory(hosts, {})
