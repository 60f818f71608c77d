"""`quietshelf serve --processes N`: several server processes on one port (PERF-CIRC-1/2).

A real server in a subprocess (SQLite instance in a temporary folder, only the
key store migrated: the answer used here, 401 from the API, needs no other
table). Each child is stopped in turn with SIGSTOP: a new connection is then
answered by the other one, which shows that both accept on the shared socket.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

QS = [sys.executable, "-m", "quietshelf"]
pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="pre-forking needs POSIX")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out.extend(int(x) for x in text)
    return sorted(out)


def _status(port: int, headers: dict | None = None) -> int:
    """POST on a new connection (redirects are not followed)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        # a JSON body says so: any other type is 415 before authentication (SEC-ERR-1)
        headers = {"Content-Type": "application/json", **(headers or {})}
        conn.request("POST", "/api/v1/circulation/checkin", b"{}", headers)
        return conn.getresponse().status
    finally:
        conn.close()


def _start(tmp_path, *, production: bool = False):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {"QUIETSHELF_HOME": str(tmp_path), "QUIETSHELF_ENV": "test"}
    migrated = subprocess.run(
        QS + ["migrate", "--database", "keystore", "--skip-checks", "-v0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert migrated.returncode == 0, migrated.stderr
    if production:
        from quietshelf.privacy.keys import create_key_file

        create_key_file(tmp_path / "master.key")
        env |= {
            "QUIETSHELF_ENV": "production",
            "QUIETSHELF_SECRET_KEY": "pR0d-" + "k9xQ2mZ7" * 8,
            "QUIETSHELF_ALLOWED_HOSTS": "127.0.0.1",
            "QUIETSHELF_SECURE_COOKIES": "true",
            "QUIETSHELF_HSTS_SECONDS": "86400",
        }
    port = _free_port()
    proc = subprocess.Popen(
        QS + ["serve", "--port", str(port), "--processes", "2", "--threads", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    if "with 2 processes" not in line:
        proc.kill()
        raise AssertionError(line + proc.stderr.read())
    return proc, port


def _stop(proc) -> None:
    if proc.poll() is None:
        children = _children(proc.pid)
        proc.kill()
        for child in children:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
    proc.wait(timeout=30)


@pytest.fixture
def server(tmp_path):
    proc, port = _start(tmp_path)
    try:
        yield proc, port
    finally:
        _stop(proc)


def _wait_for(predicate, timeout: float = 20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return predicate()


def test_two_server_processes_both_answer_perf_circ1(server):
    """PERF-CIRC-1: --processes 2 runs two waitress processes and each one answers."""
    proc, port = server
    children = _wait_for(lambda: len(_children(proc.pid)) == 2 and _children(proc.pid))
    assert len(children) == 2
    assert _status(port) == 401
    for stopped, running in (children, reversed(children)):
        os.kill(stopped, signal.SIGSTOP)
        try:
            # only the running process can accept this connection
            assert _status(port) == 401, f"process {running} did not answer"
            assert _status(port) == 401
        finally:
            os.kill(stopped, signal.SIGCONT)


def test_a_dead_server_process_is_replaced_and_sigterm_stops_all_perf_circ1(server):
    """PERF-CIRC-1: a child that dies is started again; SIGTERM ends the parent and children."""
    proc, port = server
    first = _wait_for(lambda: len(_children(proc.pid)) == 2 and _children(proc.pid))
    os.kill(first[0], signal.SIGKILL)
    now = _wait_for(lambda: (c := _children(proc.pid)) and len(c) == 2 and first[0] not in c and c)
    assert now and first[0] not in now and first[1] in now
    assert _status(port) == 401
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert "stopped" in proc.stdout.read()
    for child in now:
        assert (
            not Path(f"/proc/{child}").exists()
            or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]
        )


def test_production_server_believes_the_local_tls_proxy_sec_ses_1(tmp_path):
    """SEC-SES-1 / PERF-CIRC-1: behind a TLS proxy on this host (X-Forwarded-Proto: https)
    requests are served, not redirected to HTTPS again; without it they are redirected."""
    proc, port = _start(tmp_path, production=True)
    try:
        assert _status(port, {"X-Forwarded-Proto": "https"}) == 401
        assert _status(port) == 301
    finally:
        _stop(proc)
