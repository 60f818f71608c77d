from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "quietshelf.privacy"
    label = "privacy"
    verbose_name = "Privacy kernel"

    def ready(self):
        # Refuse to start with a key file others can read, or a malformed key:
        # raised as ImproperlyConfigured, which the CLI prints as one line.
        from django.conf import settings

        from quietshelf.privacy import checks, declarations, keys, middleware, retention_steps  # noqa: F401  (registers)

        retention_steps.install()  # the kernel's own retention steps (PRV-RET-1)

        if settings.QUIETSHELF_MASTER_KEY:
            keys.parse_master_key(settings.QUIETSHELF_MASTER_KEY, source="QUIETSHELF_MASTER_KEY")
        elif keys.key_file_path().exists():
            path = keys.key_file_path()
            keys.check_key_file_mode(path)
            keys.parse_master_key(path.read_text(), source=str(path))
