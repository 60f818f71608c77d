from django.urls import include, path

urlpatterns = [
    path("staff/privacy/", include("quietshelf.staff.privacy_urls")),
    path("staff/patrons/", include("quietshelf.patrons.staff_urls")),
    path("staff/accounts/", include("quietshelf.accounts.staff_urls")),
    path("staff/desk/", include("quietshelf.circulation.urls")),
    path("staff/notices/", include("quietshelf.notices.staff_urls")),
    path("staff/jobs/", include("quietshelf.jobs.staff_urls")),
    path("staff/sip2/", include("quietshelf.sip2.staff_urls")),
    path("staff/reports/", include("quietshelf.reports.staff_urls")),
    path("statistics/", include("quietshelf.reports.public_urls")),
    path("staff/privacy-office/", include("quietshelf.privacyoffice.staff_urls")),
    path("account/notices/", include("quietshelf.notices.account_urls")),
    path("account/privacy/", include("quietshelf.portal.privacy_urls")),
    path("account/", include("quietshelf.portal.urls")),
    path("staff/", include("quietshelf.staff.urls")),
    path("api/v1/", include("quietshelf.api.urls")),
    path("privacy/", include("quietshelf.privacyoffice.public_urls")),
    path("privacy/", include("quietshelf.privacy.urls")),
    path("", include("quietshelf.interop.urls")),
    path("", include("quietshelf.opac.urls")),
]

handler400 = "quietshelf.core.views.bad_request"
handler403 = "quietshelf.core.views.forbidden"
handler404 = "quietshelf.core.views.not_found"
handler500 = "quietshelf.core.views.server_error"
