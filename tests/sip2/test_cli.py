"""INT-1, SEC-ACC-1: `quietshelf sip2-terminal` and `quietshelf sip2` from the command line.
Bad arguments give one line on stderr and exit status 2; a password is printed once."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from quietshelf.sip2.models import Terminal
from tests.sip2.conftest import REPO_ROOT, server_env

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def env(tmp_path, settings, circ):
    return server_env(tmp_path, settings)


def qs(env, *args, **extra):
    return subprocess.run(
        [sys.executable, "-m", "quietshelf", *args],
        env=dict(env, **{k: str(v) for k, v in extra.items()}),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_terminal_add_list_password_disable_sec_acc_1(env):
    added = qs(env, "sip2-terminal", "add", "kiosk-cli", "--branch", "CNORTH",
               "--messages", "11,09,17", "--patron-name", "none")  # fmt: skip
    assert added.returncode == 0, added.stderr
    password = re.search(r"password: (\S+)", added.stdout).group(1)
    terminal = Terminal.objects.get(name="kiosk-cli")
    assert terminal.check_password(password)
    assert terminal.allowed == {"11", "09", "17"} and terminal.patron_name == "none"
    listed = qs(env, "sip2-terminal", "list")
    assert "kiosk-cli: branch CNORTH, messages 11,09,17" in listed.stdout
    assert password not in listed.stdout
    new = qs(env, "sip2-terminal", "password", "kiosk-cli")
    new_password = re.search(r"password: (\S+)", new.stdout).group(1)
    terminal.refresh_from_db()
    assert terminal.check_password(new_password) and not terminal.check_password(password)
    changed = qs(env, "sip2-terminal", "set", "kiosk-cli", "--titles", "--no-pin")
    assert changed.returncode == 0, changed.stderr
    assert qs(env, "sip2-terminal", "disable", "kiosk-cli").returncode == 0
    terminal.refresh_from_db()
    assert terminal.send_titles and not terminal.require_pin and not terminal.active


@pytest.mark.parametrize(
    "args, message",
    [
        (["sip2-terminal", "add", "kiosk-x"], "add needs --branch CODE"),
        (["sip2-terminal", "add", "kiosk-x", "--branch", "NOPE"], "No branch 'NOPE'"),
        (["sip2-terminal", "add", "k y", "--branch", "CNORTH"], "A terminal name is"),
        (["sip2-terminal", "add", "kiosk-x", "--branch", "CNORTH", "--messages", "99"],
         "Unknown or not grantable SIP2 messages: 99"),
        (["sip2-terminal", "password", "nobody"], "no terminal named nobody"),
        (["sip2-terminal", "set", "nobody"], "no terminal named nobody"),
        (["sip2-terminal", "fly"], "invalid choice"),
        (["sip2", "--port", "70000"], "--port must be between 0 and 65535"),
        (["sip2", "--charset", "klingon"], "unknown character set 'klingon'"),
        (["sip2", "--threads", "0"], "--threads must be between 1 and 64"),
    ],
)  # fmt: skip
def test_bad_arguments_one_line_exit_2_int_1(env, args, message):
    result = qs(env, *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_sip2_refuses_plain_tcp_unless_allowed_prv_enc_2(env):
    result = qs(env, "sip2", "--port", "0", QUIETSHELF_SIP2_PLAIN_OK="false")
    assert result.returncode == 2
    assert "SIP2 needs TLS" in result.stderr
    missing = qs(env, "sip2", "--port", "0", QUIETSHELF_SIP2_TLS_CERT="/nonexistent.pem")
    assert missing.returncode == 2
    assert "cannot load the TLS certificate or key" in missing.stderr
