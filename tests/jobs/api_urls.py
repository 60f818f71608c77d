"""A test URLconf serving the jobs router at /api/v1/jobs until api/main.py mounts it."""

from django.urls import path
from ninja import NinjaAPI

from quietshelf.api import errors
from quietshelf.config.urls import urlpatterns as site
from quietshelf.jobs.api import build_router

api = NinjaAPI(urls_namespace="jobs-api-test", docs_url=None)
errors.install(api)
api.add_router("/jobs", build_router())

urlpatterns = [path("api/v1/", api.urls), *site]
