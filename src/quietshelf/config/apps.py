from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """The top of the layers (docs/dev/architecture.md): settings, urls, the CLI, and the
    commands that assemble the whole system (demo, serve), which import every app (#14)."""

    name = "quietshelf.config"
    label = "config"
    verbose_name = "Configuration and assembly"
