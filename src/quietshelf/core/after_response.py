"""Work that must not make a response slower or say something by its timing.

`defer(func)` inside a request runs `func` after the response has been sent
(when the server closes it); outside a request (a command, a job, a test
calling a service) it runs at once. Used for mail a page triggers: a
"forgot my password" answer then takes the same time whether or not an
account matched and a message went out (SEC-AUTH-1), and a slow or
unreachable mail server never holds a page up.

Django calls a response's closers after the WSGI server has written the
body; that is where the deferred work runs, on the same worker thread.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

_queue: contextvars.ContextVar[list[Callable[[], None]] | None] = contextvars.ContextVar(
    "quietshelf_after_response", default=None
)


def defer(func: Callable[[], None]) -> None:
    """Run `func` after this request's response is sent (at once outside a request)."""
    queue = _queue.get()
    if queue is None:
        _run([func])
    else:
        queue.append(func)


def _run(queue: list[Callable[[], None]]) -> None:
    for func in queue:
        try:
            func()
        except Exception as exc:  # noqa: BLE001 - the response is gone; log the type only
            log.error("work after the response failed: %s", type(exc).__name__)


class AfterResponseMiddleware:
    """Collects deferred work during a request and hands it to the response's closers."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _queue.set([])
        try:
            response = self.get_response(request)
            queue = _queue.get() or []
        finally:
            _queue.reset(token)
        if queue:
            response._resource_closers.append(lambda: _run(queue))
        return response
