"""The quietshelf command and the settings' refusal to run unsafely."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

QS = [sys.executable, "-m", "quietshelf"]


def run(args, env_extra=None, **kw):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(QS + args, capture_output=True, text=True, env=env, timeout=120, **kw)


def test_help_lists_the_commands():
    """CAT-1 foundation: --help names every operator command."""
    out = run(["--help"])
    assert out.returncode == 0
    for name in ["demo", "serve", "migrate", "import-marc", "export-marc", "reindex", "check"]:
        assert name in out.stdout


def test_help_aligns_every_description_in_one_column():
    """CAT-1 foundation: a long command name never runs into its description."""
    out = run(["--help"])
    rows = [line for line in out.stdout.splitlines() if line.startswith("  ")]
    assert len(rows) >= 10
    starts = set()
    for line in rows:
        name, _, rest = line.strip().partition(" ")
        assert rest.strip(), f"{name} has no description after it"
        starts.add(len(line) - len(line[2 + len(name) :].lstrip(" ")))
    assert len(starts) == 1, f"descriptions start in {len(starts)} columns"


def test_no_command_prints_the_help_and_exits_2():
    """CAT-1 foundation: a bare `quietshelf` is a usage error with the help."""
    out = run([])
    assert out.returncode == 2
    assert "usage: quietshelf COMMAND" in out.stderr
    assert "import-marc" in out.stderr


def test_readme_lists_every_command():
    """CAT-1 foundation, #14 item 8: the README's command table is the list --help prints,
    the same commands in the same order with the same descriptions, none missing or stale."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    lines = readme.splitlines()
    start = lines.index("| command | what it does |") + 2  # the header and its |---|---|
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        name, text = (cell.strip() for cell in line.strip("|").split(" | ", 1))
        table.append((name.strip("`"), text))
    out = run(["--help"])
    assert out.returncode == 0
    rows = [line for line in out.stdout.splitlines() if line.startswith("  ")]
    listed = [tuple(line.strip().split(None, 1)) for line in rows]
    assert len(listed) >= 25
    assert table == listed


def test_unknown_command_is_one_line_and_exit_2():
    out = run(["frobnicate"])
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0
    assert "unknown command" in out.stderr


def test_bad_option_is_one_line_and_exit_2():
    out = run(["migrate", "--no-such-option"])
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0
    assert "unrecognized arguments" in out.stderr


@pytest.mark.parametrize(
    "env_extra, missing",
    [
        ({}, "QUIETSHELF_SECRET_KEY"),
        ({"QUIETSHELF_SECRET_KEY": "x" * 10}, "QUIETSHELF_SECRET_KEY"),
        ({"QUIETSHELF_SECRET_KEY": "k3" * 40}, "QUIETSHELF_ALLOWED_HOSTS"),
        (
            {"QUIETSHELF_SECRET_KEY": "k3Zq9" * 12, "QUIETSHELF_ALLOWED_HOSTS": "lib.example"},
            "QUIETSHELF_HSTS_SECONDS",
        ),
    ],
)
def test_production_refuses_to_start_and_says_what_is_missing(env_extra, missing, tmp_path):
    """PRV-ENC-2 / issue 3 item 4: production needs a secret, hosts, secure cookies, HSTS."""
    env = {"QUIETSHELF_ENV": "production", "QUIETSHELF_HOME": str(tmp_path), **env_extra}
    env.pop("DATABASE_URL", None)
    out = run(["check"], env_extra=env)
    assert out.returncode == 2
    assert missing in out.stderr
    assert "Traceback" not in out.stderr


def test_production_with_everything_given_starts(tmp_path):
    env = {
        "QUIETSHELF_ENV": "production",
        "QUIETSHELF_HOME": str(tmp_path),
        "QUIETSHELF_SECRET_KEY": "k3Zq9-" * 12,
        "QUIETSHELF_ALLOWED_HOSTS": "lib.example",
        "QUIETSHELF_HSTS_SECONDS": "31536000",
        # the privacy kernel's master key (PRV-ENC-1): production never makes one itself
        "QUIETSHELF_MASTER_KEY": "1:cXVpZXRzaGVsZi10ZXN0LW1hc3Rlci1rZXktMzJieXQ=",
    }
    env["DJANGO_ALLOW_ASYNC_UNSAFE"] = ""
    out = subprocess.run(
        QS + ["check", "--deploy", "--fail-level", "ERROR"],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in {**os.environ, **env}.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
    )
    assert out.returncode == 0, out.stderr
    # no mail server given: a warning, and no patron mail printed to the journal (PRV-LOG-1)
    assert "core.W001" in out.stderr and "QUIETSHELF_SMTP_HOST" in out.stderr


def test_production_without_mail_server_refuses_to_print_mail_prv_log_1(settings):
    """PRV-LOG-1: production without QUIETSHELF_SMTP_HOST sends nothing rather than printing
    recipients and texts on the console, where the service journal would keep them."""
    from django.core import mail
    from django.core.checks import run_checks

    settings.EMAIL_BACKEND = "quietshelf.core.mail.NoMailServerBackend"
    with pytest.raises(ConnectionRefusedError, match="QUIETSHELF_SMTP_HOST"):
        mail.send_mail("Subject", "Body", None, ["kari@example.org"])
    with pytest.raises(ConnectionRefusedError):
        mail.get_connection().open()
    assert [m.id for m in run_checks() if m.id == "core.W001"] == ["core.W001"]


def test_production_refuses_debug_sec_err_1(tmp_path):
    """SEC-ERR-1: debug pages (stack traces) can never be switched on in production."""
    env = {
        "QUIETSHELF_ENV": "production",
        "QUIETSHELF_HOME": str(tmp_path),
        "QUIETSHELF_SECRET_KEY": "k3Zq9-" * 12,
        "QUIETSHELF_ALLOWED_HOSTS": "lib.example",
        "QUIETSHELF_HSTS_SECONDS": "31536000",
        "QUIETSHELF_DEBUG": "true",
    }
    out = run(["check"], env_extra=env)
    assert out.returncode == 2
    assert "QUIETSHELF_DEBUG must be false" in out.stderr


@pytest.mark.parametrize("url", ["garbage", "mysql://root@127.0.0.1/x"])
def test_unusable_database_url_is_one_line_exit_2(url, tmp_path):
    out = run(["check"], env_extra={"QUIETSHELF_HOME": str(tmp_path), "DATABASE_URL": url})
    assert out.returncode == 2
    assert "DATABASE_URL" in out.stderr
    assert out.stderr.strip().count("\n") == 0


def test_serve_on_an_impossible_address_is_one_line_exit_2(tmp_path):
    env = {"QUIETSHELF_HOME": str(tmp_path), "QUIETSHELF_ENV": "development"}
    env_all = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | env
    # The address is refused before the database or any name look-up is touched.
    out = subprocess.run(
        QS + ["serve", "--host", "999.1.1.1"],
        env=env_all,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert out.stderr.startswith("quietshelf serve: error: cannot listen on 999.1.1.1")
    assert "Traceback" not in out.stderr
    assert "Serving" not in out.stdout


def test_serve_on_an_unmigrated_database_says_so(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {"QUIETSHELF_HOME": str(tmp_path), "QUIETSHELF_ENV": "development"}
    out = subprocess.run(QS + ["serve"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "quietshelf migrate" in out.stderr
    assert "Traceback" not in out.stderr
