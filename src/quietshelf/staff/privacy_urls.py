from django.urls import path

from quietshelf.staff import privacy_views as staff_views

app_name = "privacy_office"

urlpatterns = [
    path("", staff_views.inventory_page, name="inventory"),
    path("report/", staff_views.report, name="report"),
    path("policies/", staff_views.policies, name="policies"),
    path("audit/", staff_views.audit_log, name="audit"),
]
