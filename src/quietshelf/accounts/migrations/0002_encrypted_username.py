# The staff username becomes personal data under the privacy kernel: encrypted
# under the staff member's own data key and found through a blind index.
# Existing accounts are converted in place (RunPython below).

import django.db.models.deletion
from django.db import migrations

import quietshelf.privacy.fields


def encrypt_existing(apps, schema_editor):
    if schema_editor.connection.alias != "default":
        return
    Historical = apps.get_model("accounts", "StaffUser")
    rows = list(Historical.objects.values_list("pk", "username_plain"))
    if not rows:
        return
    # The kernel's own code does the encryption (the historical model knows no keys).
    from quietshelf.accounts.models import StaffUser

    for pk, plain in rows:
        user = StaffUser(pk=pk, username=plain)
        user._state.adding = False
        user.save(update_fields=["subject", "username", "username_index"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("privacy", "0001_kernel"),
    ]

    operations = [
        migrations.RenameField("staffuser", "username", "username_plain"),
        migrations.AddField(
            model_name="staffuser",
            name="subject",
            field=quietshelf.privacy.fields.SubjectField(
                editable=False,
                kind="staff",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="privacy.subject",
            ),
        ),
        migrations.AddField(
            model_name="staffuser",
            name="username",
            field=quietshelf.privacy.fields.EncryptedTextField(max_length=150, null=True),
        ),
        migrations.AddField(
            model_name="staffuser",
            name="username_index",
            field=quietshelf.privacy.fields.BlindIndexField(
                blank=True,
                editable=False,
                normalizer="username",
                purpose="",
                source="username",
                unique=True,
                null=True,
            ),
        ),
        migrations.RunPython(encrypt_existing, migrations.RunPython.noop),
        migrations.RemoveField("staffuser", "username_plain"),
        migrations.AlterField(
            model_name="staffuser",
            name="subject",
            field=quietshelf.privacy.fields.SubjectField(
                editable=False,
                kind="staff",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="privacy.subject",
            ),
        ),
        migrations.AlterField(
            model_name="staffuser",
            name="username",
            field=quietshelf.privacy.fields.EncryptedTextField(max_length=150),
        ),
        migrations.AlterField(
            model_name="staffuser",
            name="username_index",
            field=quietshelf.privacy.fields.BlindIndexField(
                blank=True,
                editable=False,
                normalizer="username",
                purpose="",
                source="username",
                unique=True,
            ),
        ),
    ]
