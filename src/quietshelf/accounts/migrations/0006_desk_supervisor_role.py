# The built-in "desk-supervisor" role (accounts/builtin.py): the desk plus overrides.

from django.db import migrations


def sync(apps, schema_editor):
    from quietshelf.accounts.builtin import sync_builtin_roles

    sync_builtin_roles(apps.get_model("accounts", "Role"))


class Migration(migrations.Migration):
    dependencies = [("accounts", "0005_notice_and_job_permissions")]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
