from django.apps import AppConfig


class CirculationConfig(AppConfig):
    name = "quietshelf.circulation"
    label = "circulation"
    verbose_name = "Circulation"

    def ready(self):
        from quietshelf.circulation import hooks

        hooks.install()
