"""`flask users ...` and `flask providers ...`: the same services as the pages, from the shell."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from app.extensions import db
from app.models import ROLES, User
from app.models.audit import Actor
from app.services import Refused
from app.services.providers import create_provider, has_providers
from app.services.users import BOOTSTRAP, change_password, check_username_free, create_first_admin, create_user

CLI = Actor("cli")
users_cli = AppGroup("users", help="Create and manage user accounts.")


@users_cli.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), default="viewer", show_default=True)
@click.option("--password", help="Leave out to be prompted (or to generate one with --generate).")
@click.option("--generate", is_flag=True, help="Generate a password and print it once.")
def create(username: str, role: str, password: str | None, generate: bool) -> None:
    """Create a user."""
    with _refusals(username):
        check_username_free(username)  # before asking for a password
        password = _password(password, generate)
        user = create_user(username, role, password, CLI)
    click.echo(f"created {user.username} ({role})" + (f"; password: {password}" if generate else ""))


@users_cli.command("set-password")
@click.argument("username")
@click.option("--password", help="Leave out to be prompted.")
@click.option("--generate", is_flag=True, help="Generate a password and print it once.")
def set_password(username: str, password: str | None, generate: bool) -> None:
    """Set a user's password."""
    user = User.by_username(username)
    if user is None:
        raise click.ClickException(f"no user {username!r}")
    password = _password(password, generate)
    with _refusals(username):
        change_password(user, password, CLI)
    click.echo(f"password set for {user.username}" + (f": {password}" if generate else ""))


@users_cli.command("list")
def list_users() -> None:
    """List users with their roles."""
    for user in db.session.scalars(sa.select(User).order_by(User.username)):
        state = "" if user.active else "  (disabled)"
        click.echo(f"{user.username:24} {user.role:9}{state}")


@users_cli.command("bootstrap")
def bootstrap() -> None:
    """Create the first admin when there are no users, and print its password once."""
    password = create_first_admin()
    if password is None:
        return
    click.secho("\n  First run: created user 'admin' with password: " + password, fg="green", bold=True)
    click.echo("  (shown only this once; change it with `flask users set-password admin`)\n")


def _password(password: str | None, generate: bool) -> str:
    """The given password, a generated one, or one typed at a prompt."""
    if generate:
        return secrets.token_urlsafe(12)
    return password or click.prompt("Password", hide_input=True, confirmation_prompt=True)


@contextmanager
def _refusals(name: str) -> Iterator[None]:
    """Turn a service's refusal into a CLI error naming what was refused."""
    try:
        yield
    except Refused as refused:
        raise click.ClickException(f"{name}: {refused}") from None


providers_cli = AppGroup("providers", help="Hypervisors for VMs.")


@providers_cli.command("add")
@click.argument("name")
@click.argument("uri")
@click.option("--queue", help="Queue for this hypervisor's VM jobs (default: vms).")
def add_provider(name: str, uri: str, queue: str | None) -> None:
    """Add a hypervisor (e.g. `flask providers add hv1 qemu+ssh://hv1/system --queue hv1`)."""
    with _refusals(name):
        create_provider(name, uri, queue, CLI)
    click.echo(f"added {name} ({uri})")


@providers_cli.command("bootstrap")
@click.option("--uri", default="test:///default", show_default=True)
def bootstrap_provider(uri: str) -> None:
    """Add a 'local' hypervisor when there is none (make dev uses libvirt's in-process test driver)."""
    if has_providers():
        return
    create_provider("local", uri, None, BOOTSTRAP)
    click.echo(f"  Added hypervisor 'local' ({uri}).")
