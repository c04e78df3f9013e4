"""``linli user add``, ``linli user passwd``, ``linli user set`` and ``linli token create``:
accounts on a hub's database, from its host.

They take the same ``--data-dir`` / ``--database-url`` as ``linli hub``, migrate the database
if needed and write through the same repository the API uses. A password is read from the
terminal (or standard input with ``--password-stdin``), never from the command line, where
``ps`` and shell history would keep it.
"""

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hub.auth.rules import AccountChange, Role, new_secret
from hub.errors import InvalidInputError
from hub.settings import HubSettings
from linli.flags import settings_values

if TYPE_CHECKING:
    from hub.auth.repository import AuthStore

CLI_ACTOR = "linli-cli"
"""The actor the audit trail records for changes made on the hub's host."""

user_app = typer.Typer(no_args_is_help=True, help="Accounts of people who sign in.")
token_app = typer.Typer(no_args_is_help=True, help="API tokens for scripts and edges.")

HUB_DATA_DIR = Path("linli-data/hub")
HubDataDir = Annotated[
    Path | None,
    typer.Option(
        help="The hub's data folder (as for `linli hub`); default $LINLI_HUB_DATA_DIR, "
        f"else {HUB_DATA_DIR}.",
        show_default=False,
    ),
]
DatabaseUrl = Annotated[
    str | None, typer.Option(help="SQLAlchemy URL; default SQLite in the data folder.")
]
Sites = Annotated[
    list[str] | None, typer.Option("--site", help="A site the account may see (repeat); none: all.")
]


def auth_store(data_dir: Path | None, database_url: str | None) -> "AuthStore":
    # Imported here: the database stack loads only for the account commands (see linli.cli).
    from hub.auth.repository import AuthStore
    from hub.persistence.engine import create_hub_engine, migrate

    given = {"data_dir": data_dir, "database_url": database_url}
    settings = HubSettings(**settings_values(HubSettings, given, {"data_dir": HUB_DATA_DIR}))
    engine = create_hub_engine(settings.resolved_database_url())
    migrate(engine)
    return AuthStore(engine)


PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")
]


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@user_app.command("add")
def add_user(
    username: Annotated[str, typer.Argument(help="The sign-in name.")],
    role: Annotated[Role, typer.Option(help="admin, operator, responder.")] = Role.OPERATOR,
    site: Sites = None,
    display_name: Annotated[str | None, typer.Option(help="Name shown to others.")] = None,
    password_stdin: PasswordStdin = False,
    data_dir: HubDataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an account that signs in to the API and the console."""
    password = _read_password(password_stdin)
    try:
        user = auth_store(data_dir, database_url).create_user(
            username,
            password,
            role,
            display_name=display_name,
            sites=frozenset(site) if site else None,
            actor=CLI_ACTOR,
        )
    except InvalidInputError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    scope = ", ".join(user.sites) if user.sites else "every site"
    typer.echo(f"created {user.role} {user.username} (id {user.id}) for {scope}")


@user_app.command("passwd")
def set_password(
    username: Annotated[str, typer.Argument(help="The sign-in name.")],
    password_stdin: PasswordStdin = False,
    data_dir: HubDataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Set an account's password (a forgotten one, the last admin's too); every session of
    the account ends."""
    store = auth_store(data_dir, database_url)
    user = next((u for u in store.list_users() if u.username == username), None)
    if user is None:
        typer.echo(f"error: no user {username!r}", err=True)
        raise typer.Exit(2)
    try:
        store.reset_password(user.id, _read_password(password_stdin), actor=CLI_ACTOR)
    except InvalidInputError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"password of {user.username} set; its sessions ended")


@user_app.command("set")
def change_user(
    username: Annotated[str, typer.Argument(help="The sign-in name.")],
    role: Annotated[Role | None, typer.Option(help="admin, operator, responder.")] = None,
    site: Sites = None,
    all_sites: Annotated[
        bool, typer.Option("--all-sites", help="The account may see every site.")
    ] = False,
    display_name: Annotated[str | None, typer.Option(help="Name shown to others.")] = None,
    data_dir: HubDataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Change an account's role, sites or shown name; its sessions follow at once, and the API
    tokens it issued that it could not issue now are revoked."""
    if site and all_sites:
        typer.echo("error: --site and --all-sites exclude each other", err=True)
        raise typer.Exit(2)
    if display_name is not None and not display_name.strip():
        typer.echo("error: the shown name is empty", err=True)
        raise typer.Exit(2)
    change = AccountChange(
        role=role,
        sites=frozenset(site) if site else None,
        change_sites=bool(site) or all_sites,
        display_name=None if display_name is None else display_name.strip(),
    )
    store = auth_store(data_dir, database_url)
    user = next((u for u in store.list_users() if u.username == username), None)
    if user is None:
        typer.echo(f"error: no user {username!r}", err=True)
        raise typer.Exit(2)
    changed = store.change_user(user.id, change, actor=CLI_ACTOR)
    scope = ", ".join(changed.sites) if changed.sites else "every site"
    typer.echo(f"{changed.username} is {changed.role} for {scope}")


@token_app.command("create")
def create_token(
    name: Annotated[str, typer.Argument(help="What the token is for, e.g. 'sms gateway'.")],
    role: Annotated[Role, typer.Option(help="admin, operator, responder, edge.")] = Role.OPERATOR,
    site: Sites = None,
    data_dir: HubDataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Issue an API token and print it (this once: only its hash is stored)."""
    token = new_secret()
    auth_store(data_dir, database_url).issue_api_token(
        token, name, role, sites=frozenset(site) if site else None, actor=CLI_ACTOR
    )
    typer.echo(token)
