"""Items keep the day they were catalogued and last changed, not the second (PRV-HIST-5).

Item.created_at and updated_at are now written to the coarse unit
(privacy.fields.CoarseDateTimeField); this truncates what earlier versions
stored exactly. The columns themselves are unchanged.
"""

import datetime as dt

from django.conf import settings
from django.db import migrations
from django.db.models.functions import Trunc


def coarsen_item_times(apps, schema_editor):
    unit = getattr(settings, "QUIETSHELF_RETENTION_COARSEN", "day")
    Item = apps.get_model("catalog", "Item")
    Item.objects.update(
        created_at=Trunc("created_at", unit, tzinfo=dt.UTC),
        updated_at=Trunc("updated_at", unit, tzinfo=dt.UTC),
    )


class Migration(migrations.Migration):
    dependencies = [("catalog", "0005_merge_import_report_last_activity")]

    operations = [migrations.RunPython(coarsen_item_times, migrations.RunPython.noop)]
