from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _drop_orphaned_index_rows(sender, using="default", **kwargs):
    """After migrate or a test-suite flush, drop index rows whose record is gone.

    The search tables are raw SQL (catalog migration 0002), so Django's flush
    does not empty them; without this a flushed database would keep
    searchable ghosts.
    """
    if getattr(sender, "label", "") != "catalog":
        return
    from django.db import connections

    connection = connections[using]
    if "catalog_search" not in connection.introspection.table_names():
        return
    from quietshelf.catalog.search.backends import get_backend

    get_backend().remove_orphans()


class OpacConfig(AppConfig):
    name = "quietshelf.opac"
    label = "opac"
    verbose_name = "Public catalogue"

    def ready(self):
        post_migrate.connect(_drop_orphaned_index_rows, dispatch_uid="qs_search_orphans")
