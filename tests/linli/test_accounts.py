"""`linli user add`, `linli user passwd` and `linli token create` through the real command line, on
the hub's data."""

from pathlib import Path

from sqlalchemy import select

from hub.auth.repository import AuthStore
from hub.auth.rules import Role
from hub.persistence.engine import create_hub_engine
from hub.persistence.tables import UserRow
from tests.cli import run_linli


def store_at(data_dir: Path) -> AuthStore:
    return AuthStore(create_hub_engine(f"sqlite:///{data_dir / 'hub.sqlite3'}"))


def test_a_user_added_on_the_command_line_can_sign_in(tmp_path: Path) -> None:
    result = run_linli(
        "user", "add", "li", "--role", "responder", "--site", "courtyard-a",
        "--password-stdin", "--data-dir", str(tmp_path),
        stdin="a long password here\n",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "created responder li" in result.stdout
    assert "a long password here" not in result.stdout + result.stderr
    user = store_at(tmp_path).check_password("li", "a long password here")
    assert user is not None
    assert user.role is Role.RESPONDER
    assert user.sites == ["courtyard-a"]


def test_a_short_password_is_refused_and_nothing_is_created(tmp_path: Path) -> None:
    result = run_linli(
        "user", "add", "wang", "--password-stdin", "--data-dir", str(tmp_path), stdin="short\n"
    )
    assert result.returncode == 2
    assert "at least 10 characters" in result.stderr
    engine = create_hub_engine(f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    with engine.connect() as conn:
        assert conn.execute(select(UserRow)).all() == []


def test_a_token_created_on_the_command_line_works_once_printed(tmp_path: Path) -> None:
    result = run_linli(
        "token", "create", "sms gateway", "--role", "operator", "--data-dir", str(tmp_path)
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    principal = store_at(tmp_path).principal_for(token)
    assert principal is not None
    assert principal.name == "sms gateway"
    assert principal.role is Role.OPERATOR
    assert store_at(tmp_path).principal_for(token + "x") is None


def test_a_forgotten_password_is_set_again_on_the_hubs_host(tmp_path: Path) -> None:
    # The last admin's forgotten password: nobody could sign in to reset it through the API.
    data = ("--data-dir", str(tmp_path))
    assert run_linli("user", "add", "root", "--role", "admin", "--password-stdin", *data,
                     stdin="the first long password\n").returncode == 0  # fmt: skip
    store = store_at(tmp_path)
    user = store.check_password("root", "the first long password")
    assert user is not None
    store.issue_session(user, "lnl_a-session-of-the-forgetful-admin")
    result = run_linli("user", "passwd", "root", "--password-stdin", *data,
                       stdin="the second long password\n")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "password of root set" in result.stdout
    assert store.check_password("root", "the first long password") is None
    assert store.check_password("root", "the second long password") is not None
    assert store.principal_for("lnl_a-session-of-the-forgetful-admin") is None

    missing = run_linli("user", "passwd", "nobody", "--password-stdin", *data, stdin="x" * 20)
    assert missing.returncode == 2
    assert "no user 'nobody'" in missing.stderr
    short = run_linli("user", "passwd", "root", "--password-stdin", *data, stdin="short\n")
    assert short.returncode == 2
    assert store.check_password("root", "the second long password") is not None
