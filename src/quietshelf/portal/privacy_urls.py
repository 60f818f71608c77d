"""/account/privacy/: the signed-in patron's own privacy requests (no id in any URL)."""

from django.urls import path

from quietshelf.portal import privacy_views as v

app_name = "account_privacy"

urlpatterns = [
    path("", v.requests, name="requests"),
    path("erase/", v.erase_request, name="erase"),
    path("correct/", v.correct_request, name="correct"),
    path("guardian/", v.guardian, name="guardian"),
]
