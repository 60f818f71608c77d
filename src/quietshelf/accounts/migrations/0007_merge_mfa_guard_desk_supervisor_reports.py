# Joins three branches of this wave: the second-factor guard (issue 13), the
# desk-supervisor role (issue 17) and the report permissions (issue 21). The
# built-in roles are synced once more so that every role has the permissions
# accounts/builtin.py gives it whichever branch's migration ran last.

from django.db import migrations


def sync(apps, schema_editor):
    from quietshelf.accounts.builtin import sync_builtin_roles

    sync_builtin_roles(apps.get_model("accounts", "Role"))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_desk_supervisor_role"),
        ("accounts", "0006_report_permissions"),
        ("accounts", "0006_second_factor_guard"),
    ]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
