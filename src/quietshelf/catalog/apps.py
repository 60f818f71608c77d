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

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM catalog_bibrecord")
        records = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM catalog_search")
        indexed = cur.fetchone()[0]
    # Cheap checks first: a migrate on a big catalogue should not scan it.
    if records == 0 and indexed:
        get_backend().clear()
    elif indexed > records:
        get_backend().remove_orphans()


class CatalogConfig(AppConfig):
    name = "quietshelf.catalog"
    label = "catalog"
    verbose_name = "Catalogue"

    def ready(self):
        # the catalogue's own search tables: its own clean-up (it was the OPAC's, #14 item 2)
        post_migrate.connect(_drop_orphaned_index_rows, dispatch_uid="qs_search_orphans")
