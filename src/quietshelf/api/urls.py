from django.urls import path

from quietshelf.api.main import api

urlpatterns = [path("", api.urls)]
