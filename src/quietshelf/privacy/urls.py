from django.urls import path

from quietshelf.privacy import views

app_name = "privacy"

urlpatterns = [path("", views.statement, name="statement")]
