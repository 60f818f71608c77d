from django.urls import path

from quietshelf.jobs import views

app_name = "staff_jobs"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("run/", views.run_now, name="run_now"),
    path("retry/", views.retry, name="retry"),
]
