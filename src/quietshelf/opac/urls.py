from django.urls import path

from quietshelf.opac import views

app_name = "opac"

urlpatterns = [
    path("", views.search, name="search"),
]
