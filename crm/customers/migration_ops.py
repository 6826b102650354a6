"""Steps the search migrations share: filling a derived table in committed batches and
vacuuming it afterwards (customers migrations 0007 and 0008)."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction


def fill_in_batches(schema_editor, fill: Callable[..., int | None], batch: int) -> None:
    """Call ``fill(cursor, after=, batch=)`` until it returns None, each batch committed on its
    own (the migration must not be atomic)."""
    connection = schema_editor.connection
    after = 0
    while after is not None:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            after = fill(cursor, after=after, batch=batch)


def vacuum_analyze(schema_editor, table: str) -> None:
    """VACUUM ANALYZE ``table`` (only ANALYZE inside a transaction, where VACUUM cannot run), so
    that index-only scans skip the heap and the planner knows the table."""
    connection = schema_editor.connection
    statement = f"ANALYZE {table}" if connection.in_atomic_block else f"VACUUM ANALYZE {table}"
    with connection.cursor() as cursor:
        cursor.execute(statement)
