# Notices and jobs permissions in the built-in roles (accounts/builtin.py).

from django.db import migrations


def sync(apps, schema_editor):
    from quietshelf.accounts.builtin import sync_builtin_roles

    sync_builtin_roles(apps.get_model("accounts", "Role"))


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_builtin_roles")]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
