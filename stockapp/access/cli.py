"""``flask users ...`` and ``flask tokens ...``: scriptable, no secret in argv."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click
from flask.cli import AppGroup

from ..core.errors import Problem
from ..core.rules import ValidationError
from . import accounts
from .scopes import ROLES, SCOPES
from .validation import (
    TokenRequest,
    collections_problem,
    expiry_problem,
    label_problem,
    unlimited_scope_problem,
)

users = AppGroup("users", help="Manage the users who may log in and hold tokens.")
tokens = AppGroup("tokens", help="Manage API tokens.")


def _run(unit_of_work: Callable[..., Any], *args: Any) -> Any:
    """Run a unit of work, turning its refusals into a CLI error (exit 1)."""
    try:
        return unit_of_work(*args)
    except Problem as problem:
        raise click.ClickException(problem.detail) from None
    except ValidationError as error:
        reasons = "; ".join(f"{key} {why}" for key, why in error.errors.items())
        raise click.ClickException(reasons) from None


@users.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input.",
)
def create_user(name: str, role: str, password_stdin: bool) -> None:
    """Create user NAME; the password comes from a prompt or standard input."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    _run(accounts.create_user, name, role, password)
    click.echo(f"Created user {name} ({role}).", err=True)


@users.command("list")
def list_users() -> None:
    """List the users: name, role, and whether disabled."""
    for user in accounts.list_users():
        state = "disabled" if user["disabled"] else "enabled"
        click.echo(f"{user['name']}\t{user['role']}\t{state}")


@users.command("set-role")
@click.argument("name")
@click.argument("role", type=click.Choice(ROLES))
def set_role(name: str, role: str) -> None:
    """Give user NAME the role ROLE (its tokens narrow to it at once)."""
    _run(accounts.set_role, name, role)
    click.echo(f"{name} is now {role}.", err=True)


@users.command("disable")
@click.argument("name")
def disable(name: str) -> None:
    """Disable user NAME: its sessions and tokens stop working at once."""
    _run(accounts.set_disabled, name, True)
    click.echo(f"Disabled {name}.", err=True)


@users.command("enable")
@click.argument("name")
def enable(name: str) -> None:
    """Enable user NAME again."""
    _run(accounts.set_disabled, name, False)
    click.echo(f"Enabled {name}.", err=True)


def _check(check: Callable[[Any], str | None]) -> Callable[..., Any]:
    """A click callback applying one of the API's input rules to an option."""

    def callback(_ctx: Any, param: click.Parameter, value: Any) -> Any:
        if value is not None and (why := check(value)):
            raise click.BadParameter(why, param=param)
        return value

    return callback


@tokens.command("create")
@click.option("--user", "owner", required=True, help="The user the token acts as.")
@click.option("--label", required=True, callback=_check(label_problem))
@click.option("--scope", type=click.Choice(SCOPES), required=True)
@click.option(
    "--expires-in",
    "expires_in",
    type=int,
    callback=_check(expiry_problem),
    help="Days until the token stops working (default: never).",
)
@click.option(
    "--collection",
    "collections",
    multiple=True,
    help="Limit the token to this collection (repeat for more).",
)
def create_token(
    owner: str, label: str, scope: str, expires_in: int | None, collections: tuple
) -> None:
    """Make a token and print it, alone, on standard output (shown only once)."""
    limited = collections or None
    if why := collections_problem(limited) or unlimited_scope_problem(scope, limited):
        raise click.BadParameter(why, param_hint="--collection")
    wanted = TokenRequest(label, scope, expires_in, limited)
    new = _run(accounts.create_token, wanted, owner)
    click.echo(new.secret)


@tokens.command("list")
@click.option("--user", "owner", help="Only this user's tokens.")
def list_tokens(owner: str | None) -> None:
    """List tokens (never their secrets): id, user, label, scope, state."""
    if owner is not None and owner not in {u["name"] for u in accounts.list_users()}:
        raise click.ClickException(f'There is no user "{owner}".')
    for token in accounts.list_tokens():
        if owner is not None and token["user"] != owner:
            continue
        state = "revoked" if token["revoked_at"] else "active"
        limited = ",".join(token["collections"] or ["*"])
        click.echo(
            f"{token['id']}\t{token['user']}\t{token['label']}\t{token['scope']}"
            f"\t{limited}\t{token['expires_at'] or 'never'}\t{state}"
        )


@tokens.command("revoke")
@click.argument("token_id", type=int)
def revoke_token(token_id: int) -> None:
    """Revoke token TOKEN_ID: it stops working at once."""
    _run(accounts.revoke_token, token_id)
    click.echo(f"Revoked token {token_id}.", err=True)
