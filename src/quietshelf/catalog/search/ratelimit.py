"""Per-client limit on public searches (SEC-DOS-1).

The client key is the truncated address (a /24 or /48 network, PRV-LOG-1), so
the counter never holds a full IP address, and a fixed one-minute window
counts searches in the Django cache.

The default cache is per process (locmem). A deployment that runs several
processes or machines must point CACHES at a shared cache (Redis, Memcached
or the database cache) or each process counts on its own, and the effective
limit is multiplied by the number of processes (docs/configure.md).
"""

from __future__ import annotations

import hashlib
import time

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _

from quietshelf.core.errors import RateLimited
from quietshelf.core.netutil import client_ip, truncate_ip

WINDOW_SECONDS = 60


def client_key(request) -> str:
    network = truncate_ip(client_ip(request))
    # Hash even the truncated network so a cache dump reads as noise.
    return hashlib.sha256(network.encode()).hexdigest()[:24]


def check(request, *, scope: str = "search") -> None:
    """Count one search for this client; raise RateLimited over the limit."""
    limit = settings.QUIETSHELF_SEARCH_RATE_PER_MINUTE
    if limit <= 0:
        return
    window = int(time.time() // WINDOW_SECONDS)
    key = f"qs:rl:{scope}:{client_key(request)}:{window}"
    if cache.add(key, 1, timeout=WINDOW_SECONDS + 5):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=WINDOW_SECONDS + 5)
            count = 1
    if count > limit:
        retry_after = WINDOW_SECONDS - int(time.time()) % WINDOW_SECONDS
        raise RateLimited(
            _("Too many searches from your network. Please wait a minute and try again."),
            details={"retry_after": retry_after},
        )
