from django.urls import path

from quietshelf.reports import views

app_name = "staff_reports"

urlpatterns = [
    path("", views.index, name="index"),
    path("publications/<uuid:publication_id>/unpublish/", views.unpublish, name="unpublish"),
    path("<slug:slug>/", views.report, name="report"),
    path("<slug:slug>/csv/", views.report_csv, name="csv"),
    path("<slug:slug>/publish/", views.publish, name="publish"),
]
