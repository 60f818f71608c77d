from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("notices", "0002_receipt_notice_type"),
    ]

    operations = [
        migrations.AddField(
            model_name="notice",
            name="accepted",
            field=models.BooleanField(default=False),
        ),
    ]
