from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "quietshelf.reports"
    label = "reports"
    verbose_name = "Reports and statistics"

    def ready(self) -> None:
        from quietshelf.catalog.search import on_public_search
        from quietshelf.reports.searchstats import count_search

        on_public_search(count_search)
        from quietshelf.reports import retention

        retention.install()  # a closed staff account's saved reports (PRV-RET-1)
