"""`flask users ...`: manage accounts from the shell."""

from __future__ import annotations

import secrets

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from app.extensions import db
from app.models import ROLES, User
from app.models.audit import audit

users_cli = AppGroup("users", help="Create and manage user accounts.")


@users_cli.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), default="viewer", show_default=True)
@click.option("--password", help="Leave out to be prompted (or to generate one with --generate).")
@click.option("--generate", is_flag=True, help="Generate a password and print it once.")
def create(username: str, role: str, password: str | None, generate: bool) -> None:
    """Create a user."""
    if User.by_username(username):
        raise click.ClickException(f"user {username!r} already exists")
    password = _password(password, generate)
    user = User(username=username.strip().lower(), role=role)
    _set_password(user, password)
    db.session.add(user)
    audit("user.create", target=user.username, actor="cli", role=role)
    db.session.commit()
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
    _set_password(user, password)
    audit("user.update", target=user.username, actor="cli", password="changed")
    db.session.commit()
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
    if db.session.scalar(sa.select(sa.func.count()).select_from(User)):
        return
    password = secrets.token_urlsafe(12)
    user = User(username="admin", role="admin")
    user.set_password(password)
    db.session.add(user)
    audit("user.create", target="admin", actor="bootstrap", role="admin")
    db.session.commit()
    click.secho("\n  First run: created user 'admin' with password: " + password, fg="green", bold=True)
    click.echo("  (shown only this once; change it with `flask users set-password admin`)\n")


def _password(password: str | None, generate: bool) -> str:
    """The given password, a generated one, or one typed at a prompt."""
    if generate:
        return secrets.token_urlsafe(12)
    return password or click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _set_password(user: User, password: str) -> None:
    """Set the password or turn the refusal into a CLI error."""
    try:
        user.set_password(password)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


providers_cli = AppGroup("providers", help="Hypervisors for VMs.")


@providers_cli.command("add")
@click.argument("name")
@click.argument("uri")
@click.option("--queue", help="Queue for this hypervisor's VM jobs (default: vms).")
def add_provider(name: str, uri: str, queue: str | None) -> None:
    """Add a hypervisor (e.g. `flask providers add hv1 qemu+ssh://hv1/system --queue hv1`)."""
    from app.models import Provider

    if db.session.scalar(sa.select(Provider).where(Provider.name == name)):
        raise click.ClickException(f"hypervisor {name!r} already exists")
    db.session.add(Provider(name=name, uri=uri, queue=queue))
    audit("provider.create", target=name, actor="cli", uri=uri, queue=queue)
    db.session.commit()
    click.echo(f"added {name} ({uri})")


@providers_cli.command("bootstrap")
@click.option("--uri", default="test:///default", show_default=True)
def bootstrap_provider(uri: str) -> None:
    """Add a 'local' hypervisor when there is none (make dev uses libvirt's in-process test driver)."""
    from app.models import Provider

    if db.session.scalar(sa.select(sa.func.count()).select_from(Provider)):
        return
    db.session.add(Provider(name="local", uri=uri))
    audit("provider.create", target="local", actor="bootstrap", uri=uri)
    db.session.commit()
    click.echo(f"  Added hypervisor 'local' ({uri}).")
