"""The usual patron groups, so a new library can register patrons at once (editable later)."""

from django.db import migrations

GROUPS = [
    ("student", "Student", 365),
    ("employee", "Employee", 730),
    ("temporary", "Temporary", 90),
    ("walk-in", "Walk-in", 30),
    ("child", "Child", 365),
    ("adult", "Adult", 1095),
]


def add_groups(apps, schema_editor):
    PatronGroup = apps.get_model("patrons", "PatronGroup")
    for code, name, days in GROUPS:
        PatronGroup.objects.get_or_create(
            code=code, defaults={"name": name, "default_validity_days": days}
        )


class Migration(migrations.Migration):
    dependencies = [("patrons", "0001_patrons_initial")]

    operations = [migrations.RunPython(add_groups, migrations.RunPython.noop)]
