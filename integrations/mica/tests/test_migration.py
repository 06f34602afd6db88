"""The alembic steps Mica adds to its chain create exactly what `create_all` creates, and their
downgrades remove it all."""

from __future__ import annotations

import uuid

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from mica_extension_host import metadata
from mica_extension_host.migrations import v0001, v0002

pytestmark = pytest.mark.anyio


def schema(conn) -> dict:
    insp = inspect(conn)
    out = {}
    for table in sorted(t for t in insp.get_table_names() if t.startswith("extension_host_")):
        out[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                for c in insp.get_columns(table)
            ],
            "pk": insp.get_pk_constraint(table)["constrained_columns"],
            "unique": sorted(tuple(u["column_names"]) for u in insp.get_unique_constraints(table)),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), str(i.get("dialect_options", {})))
                for i in insp.get_indexes(table)
            ),
        }
    return out


def migrate(conn, step) -> None:
    with Operations.context(MigrationContext.configure(conn)):
        step()


async def test_the_alembic_steps_match_create_all_and_downgrades_cleanly(engine, postgres):
    name = f"m_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(postgres.url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    await admin.dispose()
    migrated = create_async_engine(postgres.database_url(name))
    try:
        async with migrated.begin() as conn:
            await conn.run_sync(migrate, v0001.upgrade)
            await conn.run_sync(migrate, v0002.upgrade)
        async with migrated.connect() as conn:
            by_migration = await conn.run_sync(schema)
        async with engine.connect() as conn:
            by_create_all = await conn.run_sync(schema)
        assert set(by_create_all) == {t.name for t in metadata.sorted_tables}
        assert by_migration == by_create_all
        async with migrated.begin() as conn:
            await conn.run_sync(migrate, v0002.downgrade)
            await conn.run_sync(migrate, v0001.downgrade)
        async with migrated.connect() as conn:
            assert await conn.run_sync(schema) == {}
    finally:
        await migrated.dispose()
