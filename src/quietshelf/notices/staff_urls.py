from django.urls import path

from quietshelf.notices import views

app_name = "staff_notices"

urlpatterns = [
    path("", views.outbox, name="outbox"),
    path("<uuid:notice_id>/retry/", views.retry, name="retry"),
    path("templates/", views.template_list, name="templates"),
    path(
        "templates/<slug:notice_type>/<slug:language>/<slug:channel>/",
        views.template_edit,
        name="template_edit",
    ),
]
