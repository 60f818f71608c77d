"""Transits keep the day they were sent and received, not the second (PRV-HIST-5).

Transit.sent_at and received_at are now written to the coarse unit
(privacy.fields.CoarseDateTimeField); this truncates what earlier versions
stored exactly. The columns themselves are unchanged.
"""

import datetime as dt

from django.conf import settings
from django.db import migrations
from django.db.models.functions import Trunc


def coarsen_transit_times(apps, schema_editor):
    unit = getattr(settings, "QUIETSHELF_RETENTION_COARSEN", "day")
    Transit = apps.get_model("circulation", "Transit")
    Transit.objects.update(
        sent_at=Trunc("sent_at", unit, tzinfo=dt.UTC),
        received_at=Trunc("received_at", unit, tzinfo=dt.UTC),
    )


class Migration(migrations.Migration):
    dependencies = [("circulation", "0003_desk_ready")]

    operations = [migrations.RunPython(coarsen_transit_times, migrations.RunPython.noop)]
