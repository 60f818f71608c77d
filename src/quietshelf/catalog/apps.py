from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "quietshelf.catalog"
    label = "catalog"
    verbose_name = "Catalogue"
