"""huey's consumer, adapted: SIGTERM finishes running jobs, and worker threads close
their database connections when they stop."""

from __future__ import annotations

import signal

from django.db import connections
from huey.consumer import Consumer, Worker


class ClosingWorker(Worker):
    def shutdown(self):
        # Each thread has its own connections; left open they hold the database.
        connections.close_all()
        super().shutdown()


class GracefulConsumer(Consumer):
    """SIGTERM (systemd's stop) lets running jobs finish, like Ctrl-C does."""

    worker_class = ClosingWorker

    def _handle_stop_signal(self, sig_num, frame):
        self._logger.info("Received SIGTERM: finishing running jobs")
        self._received_signal = True
        self._restart = False
        self._graceful = True
        # A second TERM stops at once; runs cut short are taken over (docs/jobs.md).
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


class ThreadConsumer(GracefulConsumer):
    """A consumer inside another program (tests): it leaves signal handling alone."""

    def _set_signal_handlers(self):
        pass
