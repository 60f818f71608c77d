import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quietshelf.config.settings")
# One handler for every request: the second, shorter chain for bearer-token API requests
# (api/fastpath.py) was removed by #14 item 5, its gain in paired PERF-CIRC-2 runs being
# under the 10 % that would have justified copying Django's handler internals.
application = get_wsgi_application()
