from django.urls import path

from quietshelf.interop import views

app_name = "interop"

urlpatterns = [
    path("oai", views.oai, name="oai"),
    path("sru", views.sru, name="sru"),
]
