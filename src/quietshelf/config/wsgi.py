import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quietshelf.config.settings")
_full = get_wsgi_application()

# Bearer-token API requests without cookies take a shorter middleware chain
# (api.fastpath: no session, CSRF, messages or axes work; PERF-CIRC-2).
from quietshelf.api.fastpath import dispatching  # noqa: E402 - after Django is set up

application = dispatching(_full)
