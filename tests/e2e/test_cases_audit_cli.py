"""`linli audit verify` through the real command line, on SQLite and PostgreSQL."""

from pathlib import Path

from sqlalchemy import text

from hub.cases.rules import CaseAction, Resolution
from hub.persistence.engine import create_hub_engine, migrate
from hub.store import HubStore
from tests.cli import run_linli
from tests.hub.factories import T0, make_alert, make_device


def fill(url: str) -> None:
    """Give the database some history, as a running hub would."""
    engine = create_hub_engine(url)
    migrate(engine)
    store = HubStore(engine)
    store.fleet.register_device(make_device("b3-1201-smoke"))
    [case] = store.intake.ingest_alerts([make_alert(device_id="b3-1201-smoke")], T0).cases_opened
    store.cases.act(
        case.id, CaseAction.RESOLVE, note="toast", resolution=Resolution.NUISANCE, actor="op"
    )
    engine.dispose()


def tamper(url: str, sql: str) -> None:
    engine = create_hub_engine(url)
    with engine.begin() as conn:
        conn.execute(text(sql))
    engine.dispose()


def test_verify_passes_then_names_the_row_edited_by_hand(database_url: str) -> None:
    fill(database_url)
    intact = run_linli("audit", "verify", "--database-url", database_url)
    assert intact.returncode == 0, intact.stderr
    assert "audit chain intact: 3 entries" in intact.stdout

    tamper(database_url, 'UPDATE audit_log SET detail = \'{"note": "all fine"}\' WHERE seq = 3')
    broken = run_linli("audit", "verify", "--database-url", database_url)
    assert broken.returncode == 1
    assert "audit chain broken at entry 3" in broken.stdout
    assert "edited" in broken.stdout


def test_verify_takes_the_hub_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "hub"
    fill(f"sqlite:///{data_dir / 'hub.sqlite3'}")
    assert run_linli("audit", "verify", "--data-dir", str(data_dir)).returncode == 0
    tamper(f"sqlite:///{data_dir / 'hub.sqlite3'}", "DELETE FROM audit_log WHERE seq = 1")
    broken = run_linli("audit", "verify", "--data-dir", str(data_dir))
    assert broken.returncode == 1
    assert "broken at entry 1: entry 1 is missing" in broken.stdout


def test_verify_without_a_database_is_a_clear_error(tmp_path: Path) -> None:
    result = run_linli("audit", "verify", "--data-dir", str(tmp_path / "nothing"))
    assert result.returncode == 2
    assert "there is no hub database" in result.stderr
    assert not (tmp_path / "nothing" / "hub.sqlite3").exists()
