# The built-in roles (accounts/builtin.py, docs/roles.md) and the first
# version of the privacy training text.

from django.db import migrations


def create(apps, schema_editor):
    from quietshelf.accounts.builtin import (
        TRAINING_V1_BODY,
        TRAINING_V1_TITLE,
        sync_builtin_roles,
    )

    sync_builtin_roles(apps.get_model("accounts", "Role"))
    TrainingText = apps.get_model("accounts", "TrainingText")
    if not TrainingText.objects.exists():
        TrainingText.objects.create(version=1, title=TRAINING_V1_TITLE, body=TRAINING_V1_BODY)


def remove(apps, schema_editor):
    apps.get_model("accounts", "Role").objects.filter(builtin=True).delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_org_roles_mfa_sessions")]

    operations = [migrations.RunPython(create, remove)]
