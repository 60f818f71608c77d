"""System checks: `quietshelf check` fails on an undeclared personal field or a bad declaration."""

from __future__ import annotations

from django.core import checks

from quietshelf.privacy import inventory

_IDS = {
    "undeclared": "privacy.E001",
    "bad_declaration": "privacy.E002",
    "unknown_field": "privacy.E003",
}


@checks.register("privacy")
def check_inventory(app_configs=None, **kwargs):
    errors = []
    for problem in inventory.problems():
        errors.append(
            checks.Error(
                f"{problem.label}: {problem.message}",
                hint="Declare it in the model's inner class Privacy (docs/dev/adding-a-model.md)",
                id=_IDS[problem.code],
            )
        )
    return errors


@checks.register("privacy", deploy=False)
def check_master_key_file(app_configs=None, **kwargs):
    from django.conf import settings

    from quietshelf.privacy import keys

    if settings.QUIETSHELF_MASTER_KEY:
        try:
            keys.parse_master_key(settings.QUIETSHELF_MASTER_KEY, source="QUIETSHELF_MASTER_KEY")
        except keys.MasterKeyError as exc:
            return [checks.Error(str(exc), id="privacy.E020")]
        return []
    path = keys.key_file_path()
    if path.exists():
        try:
            keys.check_key_file_mode(path)
            keys.parse_master_key(path.read_text(), source=str(path))
        except keys.MasterKeyError as exc:
            return [checks.Error(str(exc), id="privacy.E020")]
    return []
