"""PostgreSQL: every foreign key to a patron refuses a patron's deletion at once (ON DELETE
RESTRICT) instead of at COMMIT (NO ACTION). PERF-RET-1, issue 15.

Deleting a patron row makes PostgreSQL check each of the ~18 tables that refer to
patrons. With NO ACTION it runs two look-ups per table and deleted row (is the key
back in the patron table? is it still referenced?); with RESTRICT only the second.
The retention purge deletes 100,000 patrons, 5,000 a batch: measured at 5,000,
the checks took 7.6 s with NO ACTION and 4.3 s with RESTRICT in the same sitting.

Nothing else changes: the constraints stay DEFERRABLE INITIALLY DEFERRED, so a row
that names a patron is still checked at COMMIT when written, as Django expects.
Only a patron's deletion is checked when its statement ends, and every deletion
of patrons empties or unlinks the referencing rows first (Django's collector
does; so does patrons.retention._delete_patrons).

This lives in the top app (config) because it must run after the migrations of
every app that refers to patrons. A table that a later migration links to
patrons keeps NO ACTION (correct, the purge is only slower); running this
function again converts it. SQLite: nothing to do (its checks are per
statement and cheap).
"""

from django.db import migrations

FIND = """
SELECT c.conname, c.conrelid::regclass::text, a.attname
FROM pg_constraint c
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
WHERE c.contype = 'f' AND c.confrelid = 'patrons_patron'::regclass
  AND c.confdeltype = %s AND cardinality(c.conkey) = 1
"""


def _convert(schema_editor, old: str, action: str) -> None:
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    qn = connection.ops.quote_name
    with connection.cursor() as cur:
        cur.execute(FIND, [old])
        found = cur.fetchall()
    for name, table, column in found:
        schema_editor.execute(
            f"ALTER TABLE {table} DROP CONSTRAINT {qn(name)}, "
            f"ADD CONSTRAINT {qn(name)} FOREIGN KEY ({qn(column)}) "
            f"REFERENCES patrons_patron (id) ON DELETE {action} DEFERRABLE INITIALLY DEFERRED"
        )


def restrict(apps, schema_editor) -> None:
    _convert(schema_editor, "a", "RESTRICT")  # 'a': NO ACTION


def no_action(apps, schema_editor) -> None:
    _convert(schema_editor, "r", "NO ACTION")  # 'r': RESTRICT


class Migration(migrations.Migration):
    # after every migration that creates a foreign key to patrons_patron
    dependencies = [
        ("patrons", "0003_last_active_month"),
        ("patron_portal", "0001_portal_initial"),
        ("circulation", "0004_transit_times_coarse"),
        ("notices", "0005_staff_recipient"),
        ("privacyoffice", "0001_privacy_office"),
    ]

    operations = [migrations.RunPython(restrict, no_action)]
