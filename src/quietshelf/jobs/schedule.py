"""When a job is due, as plain values: no ORM, the library's wall clock passed in.

A schedule names *slots*: the instants a job belongs to. A daily job's slot is
its day ("2026-11-23"), an hourly one's its hour ("2026-11-23T14"), a job
every N minutes has one slot per N minutes from midnight ("2026-11-23T14:05").
The scheduler asks for the latest slot that has begun; a slot runs at most
once (jobs.models.JobRun is unique on job and slot), and a worker that was
down catches up by running the latest slot, not every missed one: every
scheduled job brings its work up to date, so one run covers the gap.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.utils.translation import gettext as _


class ScheduleError(ValueError):
    pass


def _offset_text(offset: dt.timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"


@dataclass(frozen=True)
class Slot:
    key: str  # unique per job: the JobRun.slot value
    day: dt.date  # the library day the run covers (passed to jobs as `today`)
    starts: dt.datetime  # the slot's wall-clock start (naive, library time)


@dataclass(frozen=True)
class Schedule:
    kind: str  # "daily", "hourly", "minutes", "off"
    hour: int = 0
    minute: int = 0
    every: int = 1  # minutes, for kind "minutes"

    @classmethod
    def parse(cls, text: str) -> Schedule:
        """ "daily 01:10", "hourly :05", "every minute", "every 5 minutes" or "off"."""
        raw = " ".join(str(text).lower().split())
        if raw in {"off", "never", "disabled"}:
            return cls("off")
        if raw == "every minute":
            return cls("minutes", every=1)
        if m := re.fullmatch(r"daily (?:at )?(\d{1,2}):(\d{2})", raw):
            hour, minute = int(m[1]), int(m[2])
            if hour > 23 or minute > 59:
                raise ScheduleError(f"no such time of day: {text!r}")
            return cls("daily", hour=hour, minute=minute)
        if m := re.fullmatch(r"hourly (?:at )?:?(\d{1,2})", raw):
            minute = int(m[1])
            if minute > 59:
                raise ScheduleError(f"no such minute: {text!r}")
            return cls("hourly", minute=minute)
        if m := re.fullmatch(r"every (\d{1,4}) minutes?", raw):
            every = int(m[1])
            if not 1 <= every <= 1440:
                raise ScheduleError(f"every 1 to 1440 minutes, not {text!r}")
            return cls("minutes", every=every)
        raise ScheduleError(
            f"not a schedule: {text!r} (daily HH:MM, hourly :MM, every N minutes, off)"
        )

    @property
    def enabled(self) -> bool:
        return self.kind != "off"

    @property
    def daily(self) -> bool:
        return self.kind == "daily"

    def latest(self, now: dt.datetime) -> Slot | None:
        """The latest slot that has begun at wall-clock time `now` (None when off).

        Given an aware `now`, hour and minute slots carry its UTC offset, so the
        hour the clocks go back (02:00-03:00 twice) has distinct slots.
        """
        offset = now.utcoffset()
        suffix = "" if offset is None else _offset_text(offset)
        now = now.replace(second=0, microsecond=0, tzinfo=None)
        if self.kind == "daily":
            start = now.replace(hour=self.hour, minute=self.minute)
            if start > now:
                start -= dt.timedelta(days=1)
            return Slot(start.date().isoformat(), start.date(), start)
        if self.kind == "hourly":
            start = now.replace(minute=self.minute)
            if start > now:
                start -= dt.timedelta(hours=1)
            return Slot(start.strftime("%Y-%m-%dT%H") + suffix, start.date(), start)
        if self.kind == "minutes":
            of_day = now.hour * 60 + now.minute
            midnight = now.replace(hour=0, minute=0)
            start = midnight + dt.timedelta(minutes=of_day - of_day % self.every)
            return Slot(start.strftime("%Y-%m-%dT%H:%M") + suffix, start.date(), start)
        return None

    def next_start(self, now: dt.datetime) -> dt.datetime | None:
        """When the next slot begins after `now` (wall clock, naive)."""
        latest = self.latest(now.replace(tzinfo=None))
        if latest is None:
            return None
        step = {
            "daily": dt.timedelta(days=1),
            "hourly": dt.timedelta(hours=1),
            "minutes": dt.timedelta(minutes=self.every),
        }[self.kind]
        following = latest.starts + step
        if self.kind == "minutes" and following.date() != latest.starts.date():
            following = following.replace(hour=0, minute=0)  # slots restart at midnight
        return following

    def describe(self) -> str:
        if self.kind == "daily":
            return _("daily at %(time)s") % {"time": f"{self.hour:02d}:{self.minute:02d}"}
        if self.kind == "hourly":
            return _("every hour at :%(minute)02d") % {"minute": self.minute}
        if self.kind == "minutes":
            if self.every == 1:
                return _("every minute")
            return _("every %(n)d minutes") % {"n": self.every}
        return _("off")

    def __str__(self) -> str:
        if self.kind == "daily":
            return f"daily {self.hour:02d}:{self.minute:02d}"
        if self.kind == "hourly":
            return f"hourly :{self.minute:02d}"
        if self.kind == "minutes":
            return "every minute" if self.every == 1 else f"every {self.every} minutes"
        return "off"
