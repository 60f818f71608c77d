"""PRV-LOG-1: outgoing mail and text messages in development, and the instance folder's modes.

Before issue 13 the console mail back-end put patrons' addresses, notice texts
and working password links into the demo's terminal and the worker's log, text
messages sat in one clear-text file for ever, and the SQLite files were 0644.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
import subprocess
import sys
import textwrap
import time

from django.core.mail import EmailMessage

from quietshelf.core import outgoing
from quietshelf.jobs import registry

ADDRESS = "ingrid.fjellstad@example.org"
LINK = "http://127.0.0.1:8013/account/password/abcDEF123-token/"


def test_folder_backend_writes_one_private_file_per_message_prv_log_1(settings, tmp_path, caplog):
    settings.QUIETSHELF_OUTGOING_DIR = tmp_path / "outgoing"
    backend = outgoing.FolderEmailBackend()
    messages = [
        EmailMessage("Set a password", f"Open {LINK}", "library@localhost", [ADDRESS]),
        EmailMessage("Hei", "Blåbærsyltetøy", "library@localhost", ["other@example.org"]),
    ]
    with caplog.at_level("DEBUG"):
        assert backend.send_messages(messages) == 2
    files = sorted((tmp_path / "outgoing").iterdir())
    assert len(files) == 2 and all(f.suffix == ".eml" and ADDRESS not in f.name for f in files)
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}
    assert stat.S_IMODE((tmp_path / "outgoing").stat().st_mode) == 0o700
    texts = [f.read_text(encoding="utf-8") for f in files]
    assert any(LINK in t and f"To: {ADDRESS}" in t for t in texts)  # the demo user can follow it
    assert ADDRESS not in caplog.text and LINK not in caplog.text


def test_outgoing_messages_expire_after_a_day_by_a_job_prv_log_1(settings, tmp_path):
    settings.QUIETSHELF_OUTGOING_DIR = tmp_path / "outgoing"
    old = outgoing.write_text_message(to="+4791234567", text="old", reference="n1")
    new = outgoing.write_text_message(to="+4791234567", text="new", reference="n2")
    day_and_a_bit = time.time() - 25 * 3600
    os.utime(old, (day_and_a_bit, day_and_a_bit))
    spec = registry.get("outgoing-purge")
    assert spec is not None and spec.schedule.enabled
    assert spec.call(today=dt.datetime.now(dt.UTC).date()) == 1
    assert not old.exists() and new.exists()


def _run(home, code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUIETSHELF_")}
    env.pop("DATABASE_URL", None)
    env.update(QUIETSHELF_HOME=str(home), QUIETSHELF_ENV="development")
    return subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_development_instance_files_are_private_and_mail_never_printed_prv_log_1(tmp_path):
    home = tmp_path / "instance"
    home.mkdir(mode=0o755)
    (home / "left-by-an-old-version.log").write_text("x")
    os.chmod(home / "left-by-an-old-version.log", 0o644)
    done = _run(
        home,
        f"""
        import django, os
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quietshelf.config.settings")
        django.setup()
        from django.core.management import call_command
        from django.core.mail import send_mail
        from quietshelf.notices.channels import FileSmsGateway
        call_command("migrate", interactive=False, verbosity=0)
        call_command("migrate", database="keystore", interactive=False, verbosity=0)
        send_mail("Set a password", "Open {LINK}", None, ["{ADDRESS}"])
        FileSmsGateway().send(to="+4791234567", text="Your hold is ready", message_id="n1")
        print("done")
        """,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for text in (done.stdout, done.stderr):
        assert ADDRESS not in text and LINK not in text and "4791234567" not in text
    modes = {}
    for root, dirs, files in os.walk(home):
        for name in dirs:
            modes[os.path.join(root, name)] = stat.S_IMODE(
                os.stat(os.path.join(root, name)).st_mode
            )
        for name in files:
            modes[os.path.join(root, name)] = stat.S_IMODE(
                os.stat(os.path.join(root, name)).st_mode
            )
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    sqlite = [p for p in modes if p.endswith(".sqlite3")]
    assert sqlite, sorted(modes)
    wrong = {p: oct(m) for p, m in modes.items() if m & 0o077}
    assert wrong == {}
    mail = list((home / "outgoing").glob("*-mail-*.eml"))
    sms = list((home / "outgoing").glob("*-sms-*.txt"))
    assert len(mail) == 1 and LINK in mail[0].read_text() and len(sms) == 1
    for log in (home / "logs").glob("*") if (home / "logs").exists() else []:
        assert ADDRESS not in log.read_text(errors="replace")
