"""Fast cloning of the template schema.

django-tenants ships a general-purpose clone (a large PL/pgSQL function) that re-reads the
whole database catalogue on every call: it takes about half a second on an empty database
and grows with every tenant schema present (about two seconds with two hundred). Provisioning
needs well under a second at any size, so the structure of the template is read once into a
*snapshot* (plain DDL, from PostgreSQL's own ``pg_get_*def`` functions) and replayed into each
new schema in a single round trip. The snapshot is rebuilt whenever the template's applied
migrations change.

The snapshot covers what Django migrations create: tables and their columns (types, NOT
NULL, identity, generated columns, defaults, collations), primary keys, unique, check,
exclusion and foreign-key constraints, and indexes; plus the rows of the tables the template
holds data in (``django_migrations``, content types, permissions). A template holding
anything else (views, triggers, functions, free-standing sequences) is built by running the
migrations instead (slower, never wrong), until the snapshot learns those objects too.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from dataclasses import dataclass, field

from django.core.management import call_command
from django.db import connection

log = logging.getLogger(__name__)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class SchemaSnapshot:
    template: str
    fingerprint: str
    tables: tuple[str, ...] = ()
    create_tables: tuple[str, ...] = ()
    foreign_keys: tuple[str, ...] = ()
    indexes: tuple[str, ...] = ()
    data_tables: tuple[str, ...] = ()
    identity_columns: tuple[tuple[str, str], ...] = ()  # (table, column) of data tables
    unsupported: tuple[str, ...] = field(default=())


_cache: dict[str, SchemaSnapshot] = {}
_lock = threading.Lock()


def _fingerprint(cursor, template: str) -> str:
    """Changes whenever a migration is applied to the template (or anything else changes the
    structure: the catalogue's object ids of its relations and constraints are included)."""
    cursor.execute(
        f"SELECT count(*), coalesce(max(id), 0) FROM {_q(template)}.django_migrations")
    migrations = cursor.fetchone()
    cursor.execute(
        """SELECT coalesce(sum(c.oid::bigint), 0), count(*),
                  (SELECT coalesce(sum(k.oid::bigint), 0) FROM pg_constraint k
                    WHERE k.connamespace = n.oid)
             FROM pg_namespace n LEFT JOIN pg_class c ON c.relnamespace = n.oid
            WHERE n.nspname = %s GROUP BY n.oid""", [template])
    objects = cursor.fetchone()
    return hashlib.sha1(repr((migrations, objects)).encode()).hexdigest()


def _unsupported_objects(cursor, template: str) -> list[str]:
    cursor.execute(
        """
        SELECT 'view ' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = %(s)s AND c.relkind IN ('v', 'm', 'f', 'p')
        UNION ALL
        SELECT 'sequence ' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = %(s)s AND c.relkind = 'S'
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'i')
        UNION ALL
        SELECT 'trigger ' || t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = %(s)s AND NOT t.tgisinternal
        UNION ALL
        SELECT 'function ' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = %(s)s
        UNION ALL
        SELECT 'type ' || t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
         WHERE n.nspname = %(s)s AND t.typtype IN ('e', 'd', 'c', 'r')
           AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.reltype = t.oid)
        """, {"s": template})
    return [row[0] for row in cursor.fetchall()]


def snapshot_build(template: str) -> SchemaSnapshot:
    """Read the template's structure as DDL with unqualified names (run with the search
    path set to the target schema)."""
    with connection.cursor() as cursor:
        fingerprint = _fingerprint(cursor, template)
        unsupported = _unsupported_objects(cursor, template)
        if unsupported:
            return SchemaSnapshot(template=template, fingerprint=fingerprint,
                                  unsupported=tuple(unsupported))
        # Unqualified output from pg_get_*def: only the template is on the search path.
        # django-tenants sets its own search path again on the next cursor.
        cursor.execute(f"SET search_path TO {_q(template)}")
        try:
            cursor.execute(
                """SELECT c.oid, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = %s AND c.relkind = 'r' ORDER BY c.relname""", [template])
            tables = cursor.fetchall()
            oids = [oid for oid, _name in tables]
            cursor.execute(
                """SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                          a.attidentity, a.attgenerated, pg_get_expr(d.adbin, d.adrelid),
                          CASE WHEN a.attcollation <> t.typcollation THEN co.collname END
                     FROM pg_attribute a
                     JOIN pg_type t ON t.oid = a.atttypid
                     LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                     LEFT JOIN pg_collation co ON co.oid = a.attcollation
                    WHERE a.attrelid = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped
                    ORDER BY a.attrelid, a.attnum""", [oids])
            columns: dict[int, list[str]] = {oid: [] for oid in oids}
            identity: dict[int, list[str]] = {oid: [] for oid in oids}
            for relid, name, typ, notnull, ident, generated, default, collation in cursor.fetchall():
                parts = [_q(name), typ]
                if collation:
                    parts.append(f"COLLATE {_q(collation)}")
                if generated == "s":
                    parts.append(f"GENERATED ALWAYS AS ({default}) STORED")
                elif default is not None:
                    parts.append(f"DEFAULT {default}")
                if ident:
                    parts.append("GENERATED ALWAYS AS IDENTITY" if ident == "a"
                                 else "GENERATED BY DEFAULT AS IDENTITY")
                    identity[relid].append(name)
                if notnull:
                    parts.append("NOT NULL")
                columns[relid].append(" ".join(parts))
            names = dict(tables)
            cursor.execute(
                """SELECT conrelid, conname, contype, pg_get_constraintdef(oid) FROM pg_constraint
                    WHERE conrelid = ANY(%s) AND contype IN ('p', 'u', 'c', 'x', 'f')
                    ORDER BY CASE contype WHEN 'p' THEN 0 WHEN 'f' THEN 2 ELSE 1 END, conname""",
                [oids])
            # Primary keys, unique, check and exclusion constraints go inside CREATE TABLE
            # (one statement per table instead of one ALTER each); foreign keys come after all
            # tables exist.
            inline: dict[int, list[str]] = {oid: [] for oid in oids}
            foreign_keys = []
            for relid, name, kind, definition in cursor.fetchall():
                if kind == "f":
                    foreign_keys.append(
                        f"ALTER TABLE {_q(names[relid])} ADD CONSTRAINT {_q(name)} {definition}")
                else:
                    inline[relid].append(f"CONSTRAINT {_q(name)} {definition}")
            create_tables = tuple(
                f"CREATE TABLE {_q(names[oid])} ({', '.join(columns[oid] + inline[oid])})"
                for oid in oids)
            cursor.execute(
                """SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
                    WHERE i.indrelid = ANY(%s)
                      AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid
                                        AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x'))
                    ORDER BY i.indexrelid""", [oids])
            # pg_get_indexdef always qualifies the table: point it at the search path instead.
            qualified = re.compile(rf' ON (ONLY )?(?:{re.escape(_q(template))}|{re.escape(template)})\.')
            indexes = tuple(qualified.sub(r" ON \1", row[0], count=1) for row in cursor.fetchall())
            data_tables = []
            for _oid, name in tables:
                cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {_q(name)})")
                if cursor.fetchone()[0]:
                    data_tables.append(name)
        finally:
            connection.search_path_set_schemas = None  # let django-tenants set it again
    by_name = {name: oid for oid, name in tables}
    return SchemaSnapshot(
        template=template, fingerprint=fingerprint, tables=tuple(names[o] for o in oids),
        create_tables=create_tables,
        foreign_keys=tuple(foreign_keys), indexes=indexes, data_tables=tuple(data_tables),
        identity_columns=tuple((t, col) for t in data_tables for col in identity[by_name[t]]),
    )


def snapshot_for(template: str) -> SchemaSnapshot:
    """The cached snapshot of ``template``, rebuilt when its fingerprint changed."""
    with connection.cursor() as cursor:
        fingerprint = _fingerprint(cursor, template)
    cached = _cache.get(template)
    if cached is not None and cached.fingerprint == fingerprint:
        return cached
    with _lock:
        snap = snapshot_build(template)
        _cache[template] = snap
        return snap


def snapshot_clear() -> None:
    _cache.clear()


def schema_clone(template: str, target: str) -> str:
    """Create schema ``target`` as a copy of ``template`` (structure and the template's few
    rows). Returns the method used: "snapshot" or "migrate". Run it inside a
    transaction so that a failure leaves nothing behind."""
    snap = snapshot_for(template)
    if not connection.in_atomic_block:
        raise RuntimeError("schema_clone must run inside transaction.atomic()")
    if snap.unsupported:
        log.warning("template %s holds %s, which the snapshot does not cover: migrating %s "
                    "from scratch instead", template, ", ".join(snap.unsupported), target)
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE SCHEMA {_q(target)}")
        call_command("migrate_schemas", schema_name=target, tenant=True, interactive=False,
                     verbosity=0)
        return "migrate"
    statements = [f"CREATE SCHEMA {_q(target)}", f"SET search_path TO {_q(target)}",
                  *snap.create_tables]
    statements += [f"INSERT INTO {_q(t)} SELECT * FROM {_q(template)}.{_q(t)}" for t in snap.data_tables]
    statements += [*snap.foreign_keys, *snap.indexes]
    statements += [
        f"SELECT setval(pg_get_serial_sequence('{_q(t)}', '{c}'), "
        f"coalesce((SELECT max({_q(c)}) FROM {_q(t)}), 0) + 1, false)"
        for t, c in snap.identity_columns
    ]
    try:
        with connection.cursor() as cursor:
            cursor.execute(";\n".join(statements))  # one round trip
    finally:
        connection.search_path_set_schemas = None  # django-tenants re-applies its own next time
    return "snapshot"
