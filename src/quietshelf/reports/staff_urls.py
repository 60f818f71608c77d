from django.urls import path

from quietshelf.reports import views

app_name = "staff_reports"

urlpatterns = [
    path("", views.index, name="index"),
    path("publications/<uuid:publication_id>/unpublish/", views.unpublish, name="unpublish"),
    path("saved/<uuid:saved_id>/delete/", views.delete_saved, name="delete_saved"),
    path("schedules/", views.schedules, name="schedules"),
    path("schedules/address/", views.schedule_address, name="schedule_address"),
    path("schedules/<uuid:schedule_id>/delete/", views.schedule_delete, name="schedule_delete"),
    path("schedules/<uuid:schedule_id>/leave/", views.schedule_leave, name="schedule_leave"),
    path("weeding/", views.weeding, name="weeding"),
    path("weeding/csv/", views.weeding_csv, name="weeding_csv"),
    path("personal/<slug:slug>/", views.personal, name="personal"),
    path("personal/<slug:slug>/csv/", views.personal_csv, name="personal_csv"),
    path("<slug:slug>/", views.report, name="report"),
    path("<slug:slug>/csv/", views.report_csv, name="csv"),
    path("<slug:slug>/publish/", views.publish, name="publish"),
    path("<slug:slug>/save/", views.save, name="save"),
]
