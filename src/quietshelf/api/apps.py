from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "quietshelf.api"
    label = "api"
    verbose_name = "REST API"
