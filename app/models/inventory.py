"""Hosts and groups that playbooks run against."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import Model, db

host_groups = sa.Table(
    "host_groups",
    db.metadata,
    sa.Column("host_id", sa.ForeignKey("hosts.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("group_id", sa.ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
)


class Host(Model):
    """A machine Ansible can reach: address, port, user and inventory variables."""

    __tablename__ = "hosts"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(255), unique=True)
    address: Mapped[str | None] = mapped_column(sa.String(255))
    port: Mapped[int | None]
    user: Mapped[str | None] = mapped_column(sa.String(64))
    variables: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    groups: Mapped[list[Group]] = relationship(secondary=host_groups, back_populates="hosts", order_by="Group.name")

    def inventory_record(self) -> dict[str, Any]:
        """The host as app.ansible.inventory.build_inventory expects it."""
        return {
            "name": self.name,
            "address": self.address,
            "port": self.port,
            "user": self.user,
            "vars": self.run_vars(),
        }

    def run_vars(self) -> dict[str, Any]:
        """Variables for a run; a local connection uses the worker's own Python, as Ansible advises."""
        variables = dict(self.variables or {})
        if variables.get("ansible_connection") == "local":
            variables.setdefault("ansible_python_interpreter", "{{ ansible_playbook_python }}")
        return variables


class Group(Model):
    """A named set of hosts, with group variables."""

    __tablename__ = "groups"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(255), unique=True)
    variables: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    hosts: Mapped[list[Host]] = relationship(secondary=host_groups, back_populates="groups", order_by="Host.name")


def all_names(model: type[Host] | type[Group]) -> list[str]:
    """Every host's (or group's) name, sorted."""
    return list(db.session.scalars(sa.select(model.name).order_by(model.name)))


def host_by_name(name: str) -> Host | None:
    """The host with this name, or None."""
    return db.session.scalar(sa.select(Host).where(Host.name == name))


def group_by_name(name: str) -> Group | None:
    """The group with this name, or None."""
    return db.session.scalar(sa.select(Group).where(Group.name == name))
