"""The catalogue search index: raw tables written only by catalog/search/backends.py.

SQLite: an FTS5 table (unicode61, diacritics removed, combining marks kept
inside words) beside a table of denormalised facet values. PostgreSQL: one
table with a stored tsvector under a GIN index plus the same facet values.
"""

from django.db import migrations

SQLITE_UP = [
    """CREATE TABLE catalog_search (
        record_id INTEGER PRIMARY KEY,
        format TEXT NOT NULL DEFAULT '',
        language TEXT NOT NULL DEFAULT '',
        year INTEGER NULL,
        era TEXT NOT NULL DEFAULT '',
        available INTEGER NOT NULL DEFAULT 0,
        sort_title TEXT NOT NULL DEFAULT ''
    )""",
    "CREATE INDEX catalog_search_sort_title ON catalog_search (sort_title, record_id)",
    "CREATE INDEX catalog_search_year ON catalog_search (year)",
    """CREATE TABLE catalog_search_branch (
        record_id INTEGER NOT NULL,
        branch_id INTEGER NOT NULL,
        available INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (record_id, branch_id)
    )""",
    "CREATE INDEX catalog_search_branch_branch ON catalog_search_branch (branch_id)",
    """CREATE VIRTUAL TABLE catalog_search_fts USING fts5(
        title, author, subject, ident, rest,
        tokenize = "unicode61 remove_diacritics 2 categories 'L* N* Co M*'"
    )""",
]
SQLITE_DOWN = [
    "DROP TABLE IF EXISTS catalog_search_fts",
    "DROP TABLE IF EXISTS catalog_search_branch",
    "DROP TABLE IF EXISTS catalog_search",
]
POSTGRES_UP = [
    """CREATE TABLE catalog_search (
        record_id bigint PRIMARY KEY,
        format varchar(16) NOT NULL DEFAULT '',
        language varchar(3) NOT NULL DEFAULT '',
        year integer NULL,
        era varchar(8) NOT NULL DEFAULT '',
        available boolean NOT NULL DEFAULT false,
        sort_title text NOT NULL DEFAULT '',
        doc tsvector NOT NULL
    )""",
    "CREATE INDEX catalog_search_doc_gin ON catalog_search USING gin (doc)",
    "CREATE INDEX catalog_search_sort_title ON catalog_search (sort_title, record_id)",
    "CREATE INDEX catalog_search_year ON catalog_search (year)",
    """CREATE TABLE catalog_search_branch (
        record_id bigint NOT NULL,
        branch_id bigint NOT NULL,
        available boolean NOT NULL DEFAULT false,
        PRIMARY KEY (record_id, branch_id)
    )""",
    "CREATE INDEX catalog_search_branch_branch ON catalog_search_branch (branch_id)",
]
POSTGRES_DOWN = [
    "DROP TABLE IF EXISTS catalog_search_branch",
    "DROP TABLE IF EXISTS catalog_search",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        statements = statements_by_vendor.get(schema_editor.connection.vendor)
        if statements is None:
            raise RuntimeError(
                f"Quietshelf search supports SQLite and PostgreSQL, not {schema_editor.connection.vendor}"
            )
        for sql in statements:
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_UP, "postgresql": POSTGRES_UP}),
            _run({"sqlite": SQLITE_DOWN, "postgresql": POSTGRES_DOWN}),
        ),
    ]
