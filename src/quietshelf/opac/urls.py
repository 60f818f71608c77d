from django.urls import path

from quietshelf.opac import views

app_name = "opac"

urlpatterns = [
    path("", views.search_page, name="search"),
    path("record/<int:record_id>/", views.record_page, name="record"),
    path("record/<int:record_id>/marc/", views.marc_page, name="marc"),
]
