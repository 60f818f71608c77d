"""The privacy self-audit (PRV-AUD-1): live configuration and data against the catalogue.

Read-only and safe in production: every check only reads (the audit chain is
verified, never sealed; patron values are decrypted in memory to look for
them in clear in instance files and never written anywhere). Each finding
names its requirement and says how to fix it. `quietshelf privacy-audit`
prints the report; /staff/privacy-office/audit/ shows it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone

from quietshelf.core import clock

PASS, FAIL, WARN, SKIP = "pass", "fail", "warn", "skip"


@dataclass
class Finding:
    check: str
    requirement: str
    status: str
    message: str
    fix: str = ""


@dataclass
class Report:
    generated_at: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def scored(self) -> list[Finding]:
        return [f for f in self.findings if f.status in (PASS, FAIL, WARN)]

    @property
    def score(self) -> int:
        """Per cent: a pass counts 1, a warning half, a failure nothing; skipped checks not."""
        scored = self.scored
        if not scored:
            return 0
        points = sum(1 if f.status == PASS else 0.5 if f.status == WARN else 0 for f in scored)
        return round(100 * points / len(scored))

    @property
    def failures(self) -> int:
        return sum(1 for f in self.findings if f.status == FAIL)

    def as_json(self) -> str:
        data = {
            "generated_at": self.generated_at,
            "score": self.score,
            "failures": self.failures,
            "findings": [asdict(f) for f in self.findings],
        }
        return json.dumps(data, indent=2, ensure_ascii=False)

    def as_markdown(self) -> str:
        lines = [
            "# Privacy self-audit",
            "",
            f"Generated {self.generated_at}. Score: **{self.score}/100** "
            f"({self.failures} failing, {len(self.findings)} checks).",
            "",
            "| Result | Requirement | Check | Finding | How to fix |",
            "|---|---|---|---|---|",
        ]
        for f in self.findings:
            cells = [f.status.upper(), f.requirement, f.check, f.message, f.fix or "—"]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        return "\n".join(lines) + "\n"


CHECKS: list[tuple[str, str, Callable[[], tuple[str, str, str]]]] = []


def check(name: str, requirement: str):
    def register(fn):
        CHECKS.append((name, requirement, fn))
        return fn

    return register


# --- the checks: each returns (status, message, fix) ----------------------------------------


@check("inventory", "PRV-INV-1")
def _inventory():
    from quietshelf.privacy import inventory

    problems = inventory.problems()
    if problems:
        return (
            FAIL,
            f"{len(problems)} field(s) may hold personal data without a declaration, "
            f"first: {problems[0].label}",
            "Declare each field (docs/dev/adding-a-model.md) and run quietshelf check.",
        )
    return PASS, "Every field that can hold personal data is declared.", ""


@check("reading-history-opt-in", "PRV-CON-1")
def _reading_history():
    from quietshelf.circulation.models import ReadingHistoryEntry
    from quietshelf.privacy.models import ConsentRecord

    consented = ConsentRecord.objects.filter(
        subject_id=OuterRef("subject_id"), scope="reading_history", withdrawn_at__isnull=True
    )
    stray = ReadingHistoryEntry.objects.filter(~Exists(consented)).count()
    if stray:
        return (
            FAIL,
            f"{stray} reading-history entries belong to patrons without consent in force.",
            "Reading history is opt-in: delete entries without consent.",
        )
    return PASS, "Reading history is off by default and kept only with consent.", ""


@check("closed-loans-deidentified", "PRV-HIST-2")
def _closed_loans():
    from quietshelf.circulation.models import Fee, Loan

    delay = settings.QUIETSHELF_LOAN_DEIDENTIFY_DAYS
    cutoff = timezone.now() - dt.timedelta(days=delay, hours=25)
    open_fee = Fee.objects.filter(loan_id=OuterRef("pk"), resolved_at__isnull=True)
    linked = (
        Loan.objects.filter(returned_at__isnull=False, patron__isnull=False, returned_at__lt=cutoff)
        .filter(~Exists(open_fee))
        .count()
    )
    if linked:
        return (
            FAIL,
            f"{linked} closed loans still name their patron without an open fee.",
            "Run quietshelf run-job deidentify-loans and check that the worker runs.",
        )
    return PASS, "No closed loan names a patron unless a fee on it is open.", ""


@check("retention-job-ran", "PRV-RET-1")
def _retention_ran():
    from quietshelf.jobs.models import JobRun

    since = timezone.now() - dt.timedelta(hours=25)
    names = ("retention", "deidentify-loans")
    last = (
        JobRun.objects.filter(job__in=names, state="succeeded", finished_at__isnull=False)
        .order_by("-finished_at")
        .first()
    )
    if last is None or last.finished_at < since:
        when = "never" if last is None else f"last at {last.finished_at:%Y-%m-%d %H:%M}"
        return (
            FAIL,
            f"The retention jobs have not completed in the last 25 hours ({when}).",
            "Run quietshelf worker beside serve (docs/jobs.md).",
        )
    return PASS, f"A retention job completed at {last.finished_at:%Y-%m-%d %H:%M}.", ""


@check("staff-mfa-and-training", "PRV-ACC-2")
def _staff():
    from quietshelf.accounts import authz, roles
    from quietshelf.accounts.models import StaffUser
    from quietshelf.accounts.selectors import has_second_factor, training_acknowledged

    personal = [p for p, (_text, reaches) in authz.PERMISSIONS.items() if reaches]
    missing_mfa, missing_training = 0, 0
    for user in StaffUser.objects.filter(is_active=True):
        if not any(roles.holds_ignoring_gates(user, p) for p in personal):
            continue
        if not has_second_factor(user):
            missing_mfa += 1
        if not training_acknowledged(user):
            missing_training += 1
    if missing_mfa or missing_training:
        return (
            FAIL,
            f"Staff who can reach patron data: {missing_mfa} without a second factor, "
            f"{missing_training} without current privacy training.",
            "Each enrols a second factor (My security) and confirms the training text; "
            "until then the software keeps patron data closed to them.",
        )
    return PASS, "Every staff member with patron data has a second factor and training.", ""


@check("tls", "PRV-ENC-2")
def _tls():
    ok = (
        settings.SESSION_COOKIE_SECURE
        and settings.SECURE_SSL_REDIRECT
        and settings.SECURE_HSTS_SECONDS >= 86400
        and not settings.DEBUG
    )
    if ok:
        return PASS, "TLS only: secure cookies, redirect to HTTPS, HSTS, no debug.", ""
    status = FAIL if settings.PRODUCTION else WARN
    return (
        status,
        "TLS settings are not all on"
        + ("" if settings.PRODUCTION else " (a development instance)")
        + ".",
        "Set QUIETSHELF_SECURE_COOKIES=true, QUIETSHELF_SSL_REDIRECT=true and "
        "QUIETSHELF_HSTS_SECONDS>=86400 (docs/configure.md).",
    )


@check("canary-fresh", "PRV-GOV-2")
def _canary():
    from quietshelf.privacyoffice import selectors

    view = selectors.canary_current()
    fix = "Sign a new one: quietshelf canary sign --valid-days 90."
    if view.statement is None:
        return FAIL, "No warrant canary has been signed.", fix
    if not view.signature_ok:
        return FAIL, "The canary's signature does not match its text.", fix
    if view.stale:
        return FAIL, f"The canary went stale after {view.statement.valid_until}.", fix
    return PASS, f"The canary is valid until {view.statement.valid_until}.", ""


# What a backup file must not be: a database in clear (SQLite, pg_dump custom or plain SQL).
_PLAIN_DUMPS = (b"SQLite format 3\x00", b"PGDMP", b"--\n-- PostgreSQL database dump")


def _live_sqlite_files() -> set[tuple[int, int]]:
    """(device, inode) of this instance's SQLite databases and journals, from stat only."""
    from django.db import connections

    out = set()
    for alias in connections:
        conn = connections[alias]
        if conn.vendor != "sqlite":
            continue
        name = str(conn.settings_dict.get("NAME") or "")
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                st = os.stat(name + suffix)
            except OSError:
                continue
            out.add((st.st_dev, st.st_ino))
    return out


def _backup_header(path: Path) -> tuple[bytes, dict | None, int]:
    """The first bytes of a backup file, its manifest (None when it has none) and the
    length of the header up to the nonce."""
    import struct

    from quietshelf.privacy import backup

    with path.open("rb") as handle:
        head = handle.read(len(backup.MAGIC) + 4)
        if not head.startswith(backup.MAGIC) or len(head) < len(backup.MAGIC) + 4:
            return head + handle.read(64), None, 0
        (length,) = struct.unpack(">I", head[len(backup.MAGIC) :])
        if length > 1 << 20:
            return head, None, 0
        try:
            manifest = json.loads(handle.read(length))
        except ValueError:
            return head, None, 0
    return head, (manifest if isinstance(manifest, dict) else None), len(head) + length


@check("backups", "PRV-ENC-3")
def _backups():
    """The backups `quietshelf backup` writes: there, encrypted, within the backup rule.

    Only file names, sizes and each file's header are read. A SQLite database or journal
    is never opened here (by name or when it is the live database's own file under
    another name): closing another descriptor on it would drop SQLite's locks.
    """
    from quietshelf.privacy import retention_steps

    folder = retention_steps.backup_folder()
    rule_days = settings.QUIETSHELF_RETENTION.get("backup", {}).get("days")
    fix_make = "Make them with quietshelf backup (daily, from cron) into QUIETSHELF_BACKUP_DIR."
    files = (
        sorted(p for p in folder.iterdir() if p.is_file() and not p.name.endswith(".json"))
        if folder.is_dir()
        else []
    )
    if not files:
        return (
            FAIL if settings.PRODUCTION else WARN,
            f"No backup in {folder}.",
            fix_make,
        )
    live = _live_sqlite_files()
    now = timezone.now()
    plain, damaged, too_old, ages = [], [], [], []
    for path in files:
        st = path.stat()
        if _is_sqlite_file(path.name) or (st.st_dev, st.st_ino) in live:
            plain.append(path.name)  # a database copied in clear; never opened here
            continue
        head, manifest, header_bytes = _backup_header(path)
        if manifest is None:
            if head.startswith(_PLAIN_DUMPS):
                plain.append(path.name)
            else:
                damaged.append(path.name)
            continue
        payload = manifest.get("payload_bytes")
        if (
            not str(manifest.get("cipher", "")).startswith("AES-256-GCM")
            or not isinstance(payload, int)
            or st.st_size != header_bytes + 12 + payload
        ):
            damaged.append(path.name)
            continue
        try:
            made = dt.datetime.strptime(manifest["created_at"], "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=dt.UTC
            )
        except (KeyError, TypeError, ValueError):
            damaged.append(path.name)
            continue
        age = (now - made).days
        ages.append(age)
        if rule_days is not None and age > rule_days:
            too_old.append(path.name)
    if plain:
        return (
            FAIL,
            f"Unencrypted database copies in the backup folder: {', '.join(plain[:5])}.",
            "Delete them; back up only with quietshelf backup, which encrypts (AES-256-GCM).",
        )
    if too_old:
        return (
            FAIL,
            f"{len(too_old)} backup(s) older than the backup rule ({rule_days} days): "
            f"{', '.join(too_old[:3])}.",
            "Run the retention job (quietshelf retention), which deletes expired backups.",
        )
    if damaged:
        return (
            FAIL,
            f"Files in the backup folder that are not readable Quietshelf backups: "
            f"{', '.join(damaged[:5])}.",
            "Check them with quietshelf restore on a spare instance, or remove them.",
        )
    if not ages:
        return FAIL if settings.PRODUCTION else WARN, f"No backup in {folder}.", fix_make
    return (
        PASS,
        f"{len(ages)} encrypted backup(s) in {folder}, the newest {min(ages)} day(s) old, "
        f"none older than the backup rule"
        + (f" ({rule_days} days)." if rule_days is not None else "."),
        "",
    )


@check("requests-on-time", "PRV-DSR-6")
def _requests():
    from quietshelf.privacyoffice.models import RequestCase

    late = RequestCase.objects.filter(status="open", due_on__lt=clock.today()).count()
    if late:
        return (
            FAIL,
            f"{late} request(s) from data subjects are past their legal deadline.",
            "Answer them: /staff/privacy-office/.",
        )
    return PASS, "No request from a data subject is past its deadline.", ""


@check("privacy-contact", "PRV-CPL-1")
def _contact():
    if not settings.QUIETSHELF_CONTROLLER.get("contact"):
        return (
            FAIL,
            "No privacy contact is named in the statement.",
            "Set QUIETSHELF_PRIVACY_CONTACT.",
        )
    return PASS, "The statement names the privacy contact.", ""


@check("processor-transfers", "PRV-XFER-1")
def _processors():
    bad = [
        p.get("name", "?")
        for p in settings.QUIETSHELF_PROCESSORS
        if p.get("outside_eea") and not p.get("safeguard")
    ]
    if bad:
        return (
            FAIL,
            "Processors outside the EEA without a transfer safeguard: " + ", ".join(bad),
            "Add a safeguard (adequacy decision, SCCs) to each in QUIETSHELF_PROCESSORS.",
        )
    return PASS, f"{len(settings.QUIETSHELF_PROCESSORS)} processors registered, safeguards set.", ""


@check("notices-minimal", "PRV-NOT-1")
def _notices():
    from quietshelf.notices import conf

    if conf.titles_allowed():
        return (
            WARN,
            "Patrons may opt in to titles in notices (off by default).",
            "Unset QUIETSHELF_NOTICE_TITLES_ALLOWED unless patrons asked for it.",
        )
    return PASS, "Notices carry no titles.", ""


@check("audit-chain", "PRV-ACC-1")
def _audit_chain():
    from quietshelf.privacy import audit

    result = audit.verify()
    if not result.ok:
        return FAIL, result.line(), "Investigate at once: quietshelf audit-verify names the entry."
    return PASS, result.line(), ""


def _sample_values(limit: int = 20) -> list[str]:
    """Some real patron names, e-mail addresses and card numbers, decrypted in memory only."""
    from quietshelf.patrons.models import Card, ContactPoint, Patron
    from quietshelf.privacy.fields import is_unavailable

    values: list[str] = []
    for p in Patron.objects.order_by("-created_at")[:limit]:
        values += [p.given_name, p.family_name]
    for c in ContactPoint.objects.filter(kind="email").order_by("-created_at")[:limit]:
        values.append(c.value)
    for c in Card.objects.order_by("-issued_at")[:limit]:
        values.append(c.barcode)
    return sorted(
        {v for v in values if isinstance(v, str) and not is_unavailable(v) and len(v) >= 5}
    )


# SQLite's own files: the databases (their personal fields are ciphertext by
# construction) and their journals. They are never opened here: closing any
# other descriptor on a file SQLite has open drops this process's POSIX locks
# on it, and another process then takes itself for the last reader and deletes
# the WAL and shared memory under the open connections (a corrupt database).
_SQLITE_SUFFIXES = (".sqlite3", ".sqlite3-wal", ".sqlite3-shm", ".sqlite3-journal")


def _is_sqlite_file(name: str) -> bool:
    return name.endswith(_SQLITE_SUFFIXES)


@check("no-clear-values-in-files", "PRV-ENC-1")
def _files():
    home = Path(settings.INSTANCE_DIR)
    needles = [v.encode() for v in _sample_values()]
    if not needles:
        return SKIP, "No patron values to look for yet.", ""
    found: list[str] = []
    longest = max(len(n) for n in needles)
    for root, _dirs, files in os.walk(home):
        for name in files:
            path = Path(root) / name
            if name == "master.key" or _is_sqlite_file(name) or not path.is_file():
                continue
            tail = b""
            with path.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    block = tail + chunk
                    if any(n in block for n in needles):
                        found.append(str(path.relative_to(home)))
                        break
                    tail = block[-longest:]
    if found:
        return (
            FAIL,
            "Patron values in clear in: " + ", ".join(sorted(found)[:5]),
            "Find what wrote them (logs, exports) and remove them; values must be encrypted.",
        )
    return (
        PASS,
        f"None of {len(needles)} sampled patron values is in clear in the instance's files "
        "(logs, outgoing mail, exports, backups; the databases hold them encrypted).",
        "",
    )


def run() -> Report:
    report = Report(generated_at=timezone.now().isoformat(timespec="seconds"))
    for name, requirement, fn in CHECKS:
        try:
            status, message, fix = fn()
        except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others
            status, message, fix = (
                FAIL,
                f"The check could not run ({type(exc).__name__}).",
                "See the server log.",
            )
        report.findings.append(Finding(name, requirement, status, message, fix))
    return report
