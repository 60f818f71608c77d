from django.apps import AppConfig


class InteropConfig(AppConfig):
    name = "quietshelf.interop"
    label = "interop"
    verbose_name = "Metadata exchange (OAI-PMH, SRU)"

    def ready(self):
        # The catalogue calls this when a record is deleted (catalog/hooks.py):
        # the OAI-PMH provider keeps a tombstone (deletedRecord persistent).
        from quietshelf.catalog.hooks import register_record_deleted
        from quietshelf.interop.services import tombstone_record

        register_record_deleted(tombstone_record)
