"""Jobs that exist only for the tests, registered through QUIETSHELF_JOBS_EXTRA.

`effects` behaves like a real job: each piece of work (a "notice" n for the
day) is claimed by a unique key, so a second run repeats nothing; a table
without any key (jobs_test_calls) counts how often the job was started at all.
"""

from __future__ import annotations

import datetime as dt
import os
import time

from django.db import connection, transaction

STEPS_ENV = "QS_TEST_JOB_STEPS"
PAUSE_ENV = "QS_TEST_JOB_PAUSE"


def effects(*, today: dt.date | None = None) -> int:
    steps = int(os.environ.get(STEPS_ENV, "4"))
    pause = float(os.environ.get(PAUSE_ENV, "0"))
    day = (today or dt.date(2026, 1, 1)).isoformat()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("INSERT INTO jobs_test_calls (day, pid) VALUES (%s, %s)", [day, os.getpid()])
    sent = 0
    for n in range(steps):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO jobs_test_effect (day, n) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                [day, n],
            )
            if cursor.rowcount == 1:
                cursor.execute(
                    "INSERT INTO jobs_test_sent (day, n, pid) VALUES (%s, %s, %s)",
                    [day, n, os.getpid()],
                )
                sent += 1
        if pause:
            time.sleep(pause)
    return sent


def fails(*, today: dt.date | None = None) -> int:
    if os.environ.get("QS_TEST_JOB_FIXED"):
        return 7
    # The message holds a made-up card number: the run record must not keep it.
    raise RuntimeError("could not reach the notice gateway for card 23000000042")
