from django.apps import AppConfig


class StaffConfig(AppConfig):
    name = "quietshelf.staff"
    label = "staff"
    verbose_name = "Staff interface"
