"""The hand-written migrations create exactly the schema the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, String, inspect

from hub.persistence.engine import alembic_config, migrate
from hub.persistence.schema import Base


def test_the_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diffs == []


def test_the_comparison_would_see_a_difference(engine: Engine) -> None:
    altered = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.tables.values():
        table.to_metadata(altered)
    altered.tables["alerts"].c.location.type = String(100)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), altered)
    assert len(diffs) == 1


def test_migrating_again_is_a_no_op(engine: Engine) -> None:
    migrate(engine)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head
    assert set(inspect(engine).get_table_names()) == {"alembic_version", *Base.metadata.tables}
    assert {"devices", "alerts", "cases", "case_events", "edges", "households"} <= set(
        Base.metadata.tables
    )


def test_there_is_one_head() -> None:
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1
