"""Facet values where counting them costs least (PERF-CAT-2).

Counting facets looks up one row per matching record. SQLite: a narrow table
``catalog_search_facet`` (record id, format, language, era, available, the
record's branch ids as text) whose pages stay in memory, instead of the
wider ``catalog_search`` rows plus a second look-up in
``catalog_search_branch``; a trigger keeps its ``available`` in step with
``catalog_search`` (availability is refreshed in place after check-out and
check-in). PostgreSQL: the branch ids as one more column of
``catalog_search``, whose row the ranking reads anyway, so ranking returns
every facet value with the score.
"""

from django.db import migrations

SQLITE_UP = [
    """CREATE TABLE catalog_search_facet (
        record_id INTEGER PRIMARY KEY,
        format TEXT NOT NULL DEFAULT '',
        language TEXT NOT NULL DEFAULT '',
        era TEXT NOT NULL DEFAULT '',
        available INTEGER NOT NULL DEFAULT 0,
        branches TEXT NOT NULL DEFAULT ''
    )""",
    """INSERT INTO catalog_search_facet
        (record_id, format, language, era, available, branches)
    SELECT d.record_id, d.format, d.language, d.era, d.available,
        coalesce((SELECT group_concat(o.branch_id, ',') FROM (
            SELECT b.branch_id FROM catalog_search_branch b
            WHERE b.record_id = d.record_id ORDER BY b.branch_id) o), '')
    FROM catalog_search d""",
    """CREATE TRIGGER catalog_search_facet_available
    AFTER UPDATE OF available ON catalog_search
    BEGIN
        UPDATE catalog_search_facet SET available = NEW.available
        WHERE record_id = NEW.record_id;
    END""",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS catalog_search_facet_available",
    "DROP TABLE IF EXISTS catalog_search_facet",
]
POSTGRES_UP = [
    # A constant default: no table rewrite; only records with items are updated.
    "ALTER TABLE catalog_search ADD COLUMN branches text NOT NULL DEFAULT ''",
    """UPDATE catalog_search d SET branches = o.ids
    FROM (SELECT record_id, string_agg(branch_id::text, ',' ORDER BY branch_id) AS ids
          FROM catalog_search_branch GROUP BY record_id) o
    WHERE o.record_id = d.record_id""",
]
POSTGRES_DOWN = [
    "ALTER TABLE catalog_search DROP COLUMN IF EXISTS branches",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        statements = statements_by_vendor.get(schema_editor.connection.vendor)
        if statements is None:
            raise RuntimeError(
                "Quietshelf search supports SQLite and PostgreSQL, "
                f"not {schema_editor.connection.vendor}"
            )
        for sql in statements:
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0002_search_index"),
    ]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_UP, "postgresql": POSTGRES_UP}),
            _run({"sqlite": SQLITE_DOWN, "postgresql": POSTGRES_DOWN}),
        ),
    ]
