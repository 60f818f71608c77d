from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "quietshelf.jobs"
    label = "jobs"
    verbose_name = "Scheduled jobs"
