from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "quietshelf.jobs"
    label = "jobs"
    verbose_name = "Scheduled jobs"

    def ready(self) -> None:
        from quietshelf.jobs import (
            checks,  # noqa: F401 - registers the settings check
            queue,
            tasks,
        )

        queue.register_tasks(tasks.register)
