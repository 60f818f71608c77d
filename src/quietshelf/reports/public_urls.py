from django.urls import path

from quietshelf.reports import views

app_name = "statistics"

urlpatterns = [
    path("", views.public_index, name="index"),
    path("<slug:slug>/", views.public_report, name="report"),
    path("<slug:slug>/csv/", views.public_csv, name="csv"),
]
