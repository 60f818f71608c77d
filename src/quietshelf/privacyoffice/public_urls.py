"""Public pages under /privacy/: the warrant canary (and its files for stock tools)."""

from django.urls import path

from quietshelf.privacyoffice import public_views as v

app_name = "privacy_public"

urlpatterns = [
    path("", v.statement, name="statement"),
    path("canary/", v.canary, name="canary"),
    path("canary.txt", v.canary_text, name="canary_txt"),
    path("canary.sig", v.canary_signature, name="canary_sig"),
    path("canary.pub", v.canary_public_key, name="canary_pub"),
    path("transparency/", v.transparency, name="transparency"),
]
