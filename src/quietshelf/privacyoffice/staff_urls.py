"""/staff/privacy-office/: requests by deadline, erasure, the warrant canary."""

from django.urls import path

from quietshelf.privacyoffice import staff_views as v

app_name = "privacyoffice"

urlpatterns = [
    path("", v.dashboard, name="dashboard"),
    path("cases/new/", v.case_new, name="case_new"),
    path("cases/<uuid:case_id>/", v.case_detail, name="case"),
    path("patrons/<uuid:patron_id>/erase/", v.erase, name="erase"),
    path("canary/", v.canary_page, name="canary"),
    path("audit/", v.self_audit, name="self_audit"),
    path("breaches/", v.breach_list, name="breach_list"),
    path("breaches/<uuid:incident_id>/", v.breach_detail, name="breach"),
    path("government/", v.government_list, name="government_list"),
    path("government/<uuid:request_id>/", v.government_detail, name="government"),
]
