"""The NinjaAPI: each app's router is mounted here; errors mapped once."""

from __future__ import annotations

from ninja import NinjaAPI

from quietshelf.api import errors

api = NinjaAPI(
    title="Quietshelf API",
    version="1",
    urls_namespace="api",
    docs_url="/docs",
)
errors.install(api)


@api.get("/health", tags=["system"])
def health(request):
    return {"status": "ok"}
