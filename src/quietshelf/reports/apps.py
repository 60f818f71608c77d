from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "quietshelf.reports"
    label = "reports"
    verbose_name = "Reports and statistics"
