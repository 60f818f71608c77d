"""The retention engine (PRV-RET-1/2/3, PRV-HIST-5): one schedule, the job that keeps it.

One truth. `schedule()` turns settings.QUIETSHELF_RETENTION (and the periods
the privacy officer set on the Retention page) into `Rule` objects; the
privacy statement, the records-of-processing report, the dry run and the
job all read those same objects. Every rule names the scheduled job that
enforces it (`Rule.job`).

Steps. Each app registers, at start-up, the steps that apply a rule to its
own tables (`register_step`): the kernel never imports the apps above it
(DESIGN.md, Layers). A step counts what is due (`count`) and applies one
batch in set-based SQL (`batch`: one UPDATE or DELETE over at most
`ctx.batch_size` ids, returning how many rows it changed). The engine runs
each batch in its own transaction, so a killed run leaves every row either
before or after, and the next run picks up what is still due.

Legal holds (PRV-RET-2): a hold on a rule skips every step of that rule; a
hold on a person (`LegalHold.subject`) is excluded by the steps that touch
that person's data (`ctx.held_subjects()`).

Coarsening (PRV-HIST-5): when a row loses its patron, its timestamps are
truncated to QUIETSHELF_RETENTION_COARSEN (day by default, in UTC) so that
none equals, to the second, a timestamp on a row that still names the patron.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import functools
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.db.models.functions import Trunc
from django.utils import timezone

from quietshelf.core.errors import Conflict, InvalidInput, NotFound
from quietshelf.privacy import audit
from quietshelf.privacy.models import LegalHold, RetentionRun, RetentionSetting, Subject

JOB = "retention"  # the scheduled job (jobs/registry.py) that runs every step below
# Rules enforced by another scheduled job, at the event itself or by that job's sweep.
ENFORCED_ELSEWHERE = {
    "notice": "reduce-notice-history",
    "notice_history": "reduce-notice-history",
}
# Legal minimum periods (bookkeeping law keeps financial records at least five years).
MINIMUM_DAYS = {"fee": 1825}
# The environment variable of each rule (the others: QUIETSHELF_RETENTION_<RULE>_DAYS).
SETTING_NAMES = {"loan": "QUIETSHELF_LOAN_DEIDENTIFY_DAYS"}
# Rules whose period is fixed by the design (0: at the event) and not editable on the page.
FIXED = {"hold", "notice", "patron_sso"}


class RetentionLocked(Conflict):
    code = "retention_locked"


# --- the schedule ------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One retention rule: how long, after what, and which scheduled job enforces it."""

    key: str
    days: int | None  # None: kept while needed (no expiry)
    after: str
    job: str | None  # None only when days is None: nothing expires
    setting: str
    minimum: int = 0
    source: str = "settings"  # "settings" or "staff page"

    @property
    def editable(self) -> bool:
        return self.days is not None and self.key not in FIXED

    def text(self) -> str:
        """The period as the privacy statement shows it."""
        if self.days is None:
            return f"kept {self.after}".strip()
        if self.days == 0:
            return f"deleted as soon as {self.after}".strip()
        unit = "day" if self.days == 1 else "days"
        return f"{self.days} {unit} after {self.after}".strip()

    def cutoff(self, now: dt.datetime) -> dt.datetime | None:
        return None if self.days is None else now - dt.timedelta(days=self.days)


def setting_name(key: str) -> str:
    return SETTING_NAMES.get(key, f"QUIETSHELF_RETENTION_{key.upper()}_DAYS")


_OVERRIDES_SECONDS = 30  # check-in reads the loan rule: not a query per transaction
_overrides_cache: tuple[float, dict] | None = None


def reset_cache() -> None:
    global _overrides_cache
    _overrides_cache = None


def _overrides() -> dict[str, RetentionSetting]:
    global _overrides_cache
    if _overrides_cache is not None and time.monotonic() - _overrides_cache[0] < _OVERRIDES_SECONDS:
        return _overrides_cache[1]
    try:
        found = {row.rule: row for row in RetentionSetting.objects.all()}
    except DatabaseError:  # before `migrate` the table is missing: the settings rule
        return {}
    _overrides_cache = (time.monotonic(), found)
    return found


def schedule() -> dict[str, Rule]:
    """Every retention rule, from the settings and the privacy officer's changes."""
    overrides = _overrides()
    out = {}
    for key, spec in settings.QUIETSHELF_RETENTION.items():
        days = spec.get("days")
        if key == "loan":  # the circulation setting of the same name is the source
            days = getattr(settings, "QUIETSHELF_LOAN_DEIDENTIFY_DAYS", days)
        source = "settings"
        if key in overrides and days is not None and key not in FIXED:
            days, source = overrides[key].days, "staff page"
        job = None if days is None else ENFORCED_ELSEWHERE.get(key, JOB)
        out[key] = Rule(
            key=key,
            days=days,
            after=spec.get("after", ""),
            job=job,
            setting=setting_name(key),
            minimum=MINIMUM_DAYS.get(key, 0),
            source=source,
        )
    return out


def rule(key: str) -> Rule | None:
    return schedule().get(key)


def rule_days(key: str, default: int = 0) -> int:
    found = rule(key)
    return default if found is None or found.days is None else found.days


def validate_days(key: str, value) -> int:
    """A period in whole days, not negative, not below the rule's legal minimum."""
    try:
        days = int(str(value).strip())
    except (TypeError, ValueError):
        raise InvalidInput(
            f"{setting_name(key)}: a whole number of days, not {value!r}", code="invalid_days"
        ) from None
    if days < 0:
        raise InvalidInput(f"{setting_name(key)}: must not be negative", code="invalid_days")
    minimum = MINIMUM_DAYS.get(key, 0)
    if days < minimum:
        raise InvalidInput(
            f"{setting_name(key)}: at least {minimum} days (the legal minimum)",
            code="below_legal_minimum",
        )
    return days


@transaction.atomic(durable=True)
def retention_set(*, actor, key: str, days) -> Rule:
    """The privacy officer changes a period on the Retention page (audited)."""
    current = schedule().get(key)
    if current is None:
        raise NotFound("No such retention rule.", code="rule_not_found")
    if not current.editable:
        raise InvalidInput("This period is fixed by design.", code="rule_fixed")
    days = validate_days(key, days)
    RetentionSetting.objects.update_or_create(
        rule=key, defaults={"days": days, "changed_at": timezone.now()}
    )
    reset_cache()
    transaction.on_commit(reset_cache)
    audit.record(
        actor=actor,
        action="changed",
        object_type="privacy.retentionrule",
        object_id=key,
        reason=f"retention {current.days} -> {days} days",
    )
    return schedule()[key]


# --- coarsening (PRV-HIST-5) ---------------------------------------------------------


def coarse_unit() -> str:
    return getattr(settings, "QUIETSHELF_RETENTION_COARSEN", "day")


def coarsen(moment: dt.datetime | None) -> dt.datetime | None:
    """`moment` truncated (in UTC) to the configured unit; the Python twin of coarse()."""
    if moment is None:
        return None
    utc = moment.astimezone(dt.UTC)
    unit = coarse_unit()
    if unit == "hour":
        return utc.replace(minute=0, second=0, microsecond=0)
    day = utc.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "week":
        return day - dt.timedelta(days=day.weekday())
    return day


_SQLITE_FORMATS = {"hour": "%Y-%m-%d %H:00:00", "day": "%Y-%m-%d 00:00:00"}


class Coarse(Trunc):
    """Trunc in UTC; on SQLite in SQLite's own strftime, not a Python function per row
    (Django stores SQLite datetimes as UTC text, so the text is the truncated value)."""

    def as_sqlite(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.lhs)
        if self.kind == "week":  # back to Monday
            return (
                f"strftime('%%Y-%%m-%%d 00:00:00', {sql}, "
                f"'-' || ((CAST(strftime('%%w', {sql}) AS INTEGER) + 6) %% 7) || ' days')",
                [*params, *params, *params],
            )
        return f"strftime(%s, {sql})", [_SQLITE_FORMATS[self.kind], *params]


def coarse(field_name: str) -> Trunc:
    """SQL: the column truncated to the configured unit (for UPDATE ... SET col = coarse)."""
    return Coarse(field_name, coarse_unit(), tzinfo=dt.UTC)


def coarse_values(*fields: str) -> dict:
    return {name: coarse(name) for name in fields}


def not_coarse(*fields: str) -> Q:
    """Rows where any of these timestamps still carries more than the coarse unit."""
    q = Q()
    for name in fields:
        q |= Q(**{f"{name}__isnull": False}) & ~Q(**{name: coarse(name)})
    return q


# --- legal holds -----------------------------------------------------------------------


def active_holds():
    return LegalHold.objects.filter(released_at__isnull=True)


def held_rules() -> set[str]:
    return set(active_holds().exclude(rule="").values_list("rule", flat=True))


def held_subjects():
    """Subject ids under an active legal hold (a subquery for the steps)."""
    return active_holds().filter(subject__isnull=False).values("subject_id")


def is_held(subject_id) -> bool:
    return active_holds().filter(subject_id=subject_id).exists()


@transaction.atomic(durable=True)
def legal_hold_place(*, actor, case_reference: str, subject_id=None, rule_key: str = ""):
    """Place a legal hold on one person (their data subject) or on a retention rule."""
    case_reference = (case_reference or "").strip()
    if not case_reference or len(case_reference) > 100:
        raise InvalidInput("Give the case reference (1 to 100 characters).", code="case_required")
    if bool(subject_id) == bool(rule_key):
        raise InvalidInput("Hold either one person or one category.", code="hold_target")
    if rule_key and rule_key not in settings.QUIETSHELF_RETENTION:
        raise InvalidInput("No such retention category.", code="rule_not_found")
    if subject_id and not Subject.objects.filter(pk=subject_id, forgotten_at__isnull=True).exists():
        raise NotFound("No such person (or already erased).", code="subject_not_found")
    who = audit.as_actor(actor)
    hold = LegalHold.objects.create(
        subject_id=subject_id or None,
        rule=rule_key or "",
        case_reference=case_reference,
        created_by=who.id,
        created_at=timezone.now(),
    )
    audit.record(actor=who, action="legal_hold_placed", obj=hold, reason=rule_key or "person")
    return hold


@transaction.atomic(durable=True)
def legal_hold_release(*, actor, hold_id) -> LegalHold:
    hold = LegalHold.objects.select_for_update().filter(pk=hold_id).first()
    if hold is None:
        raise NotFound("No such legal hold.", code="hold_not_found")
    if hold.released_at is not None:
        raise Conflict("This legal hold was released already.", code="hold_released")
    who = audit.as_actor(actor)
    hold.released_at = timezone.now()
    hold.released_by = who.id
    hold.save(update_fields=["released_at", "released_by"])
    audit.record(actor=who, action="legal_hold_released", obj=hold)
    return hold


# --- steps ---------------------------------------------------------------------------


@dataclass
class Context:
    rule: Rule
    now: dt.datetime
    today: dt.date
    batch_size: int
    # A step that only updates one table in place (loans losing their patron) takes
    # batches this large (FOLIO anonymises 50,000 at a time); a purge keeps batch_size.
    update_batch_size: int = 0
    # Where a step's batches have got to within this run (a step that walks an index in
    # order keeps its key here); lost with the run, which is safe: rows already done no
    # longer match, so the next run starts again from the beginning.
    position: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.update_batch_size = self.update_batch_size or self.batch_size

    @property
    def cutoff(self) -> dt.datetime | None:
        return self.rule.cutoff(self.now)

    def held_subjects(self):
        return held_subjects()

    @functools.cached_property
    def held_subject_ids(self) -> list:
        """The (few) subject ids under a legal hold: steps skip the exclusion when none."""
        return list(
            active_holds().filter(subject__isnull=False).values_list("subject_id", flat=True)
        )


@dataclass(frozen=True)
class Step:
    """What one app does for one rule: count what is due, apply it one batch at a time."""

    key: str  # the category as shown: "closed loans", "expired patrons"
    rule: str
    action: str  # "de-identified", "deleted" or "shredded"
    why: str  # why the rows are due, for the dry run
    models: tuple[str, ...]  # the inventory models (app.Model) this step keeps
    count: Callable[[Context], dict]  # {"due": n, "held": m, "kept": k}
    batch: Callable[[Context], int]
    order: int = 50


_steps: dict[str, Step] = {}


def register_step(step: Step) -> None:
    _steps[step.key] = step


def steps() -> list[Step]:
    return sorted(_steps.values(), key=lambda s: (s.order, s.key))


def ids_batch(qs, ctx: Context) -> list:
    """The next batch of primary keys a step will change (set-based: one query)."""
    return list(qs.values_list("pk", flat=True)[: ctx.batch_size])


# --- the run -------------------------------------------------------------------------


@dataclass
class StepReport:
    key: str
    rule: str
    action: str
    why: str
    due: int = 0
    done: int = 0
    held: int = 0
    kept: int = 0
    held_rule: bool = False
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {
            "rule": self.rule,
            "action": self.action,
            "why": self.why,
            "due": self.due,
            "done": self.done,
            "held": self.held,
            "kept": self.kept,
            "held_rule": self.held_rule,
            "seconds": round(self.seconds, 2),
        }


@dataclass
class RunResult:
    run: RetentionRun
    reports: list[StepReport] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(r.done for r in self.reports)

    def summary(self) -> str:
        seconds = (self.run.finished_at - self.run.started_at).total_seconds()
        verb = "would change" if self.run.dry_run else "changed"
        due = sum(r.due for r in self.reports)
        held = sum(r.held for r in self.reports)
        count = due if self.run.dry_run else self.total
        return (
            f"retention: {verb} {count:,} rows in {len(self.reports)} categories "
            f"({held:,} held by legal holds) in {seconds:.1f} s"
        )


def _lock_path():
    return settings.INSTANCE_DIR / "retention.lock"


_PG_LOCK = 0x51_5345_5245_54  # "QSRET": the advisory lock id of the retention run


@contextlib.contextmanager
def run_lock() -> Iterator[None]:
    """One run at a time: an advisory lock on PostgreSQL, a file lock on SQLite."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s)", [_PG_LOCK])
            if not cur.fetchone()[0]:
                raise RetentionLocked("another retention run holds the lock; try again later")
        try:
            yield
        finally:
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", [_PG_LOCK])
        return
    fd = os.open(_lock_path(), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RetentionLocked("another retention run holds the lock; try again later") from None
        yield
    finally:
        os.close(fd)


def run(
    *,
    today: dt.date | None = None,
    dry_run: bool = False,
    only: list[str] | None = None,
    progress: Callable[[StepReport], None] | None = None,
    actor=None,
) -> RunResult:
    """Apply (or with dry_run, count) every step of the schedule."""
    with run_lock():
        return _run(today=today, dry_run=dry_run, only=only, progress=progress, actor=actor)


def _run(*, today, dry_run, only, progress, actor) -> RunResult:
    now = timezone.now()
    today = today or timezone.localdate(now)
    if today != timezone.localdate(now):
        now = timezone.make_aware(dt.datetime.combine(today, dt.time(12)))
    rules = schedule()
    on_hold = held_rules()
    who = actor or audit.Actor.system(JOB)
    record = RetentionRun.objects.create(started_at=timezone.now(), dry_run=dry_run)
    result = RunResult(run=record)
    batch_size = int(getattr(settings, "QUIETSHELF_RETENTION_BATCH", 5000))
    update_batch_size = int(getattr(settings, "QUIETSHELF_RETENTION_UPDATE_BATCH", 50000))
    try:
        for step in steps():
            if only and step.key not in only and step.rule not in only:
                continue
            rule_obj = rules.get(step.rule)
            if rule_obj is None or rule_obj.days is None:
                continue
            ctx = Context(
                rule=rule_obj,
                now=now,
                today=today,
                batch_size=batch_size,
                update_batch_size=update_batch_size,
            )
            report = StepReport(step.key, step.rule, step.action, step.why)
            started = time.monotonic()
            counts = step.count(ctx)
            report.due, report.held = counts.get("due", 0), counts.get("held", 0)
            report.kept = counts.get("kept", 0)
            if step.rule in on_hold:
                report.held_rule, report.held, report.due = True, report.held + report.due, 0
            if not dry_run and report.due:
                while True:
                    with transaction.atomic(durable=True):
                        n = step.batch(ctx)
                    if not n:
                        break
                    report.done += n
                    if progress:
                        progress(report)
                with transaction.atomic(durable=True):
                    audit.record(
                        actor=who,
                        action="retention_applied",
                        object_type="privacy.retentioncategory",
                        object_id=step.key,
                        reason=f"{step.action} {report.done:,} ({step.rule})",
                    )
            report.seconds = time.monotonic() - started
            result.reports.append(report)
            if progress:
                progress(report)
        record.status = "done"
    except BaseException as exc:
        record.status = "failed"
        record.error = f"{type(exc).__name__}: {exc}"[:200]
        raise
    finally:
        record.finished_at = timezone.now()
        record.results = {r.key: r.as_dict() for r in result.reports}
        record.save(update_fields=["status", "error", "finished_at", "results"])
    return result


def run_scheduled(*, today: dt.date | None = None) -> int:
    """The daily job (jobs/registry.py "retention"): returns the number of rows changed."""
    return run(today=today).total


def last_run(*, dry_run: bool | None = False) -> RetentionRun | None:
    qs = RetentionRun.objects.exclude(status="running")
    if dry_run is not None:
        qs = qs.filter(dry_run=dry_run)
    return qs.first()
