"""CIR-5: `make demo` (quietshelf demo) starts the job worker beside the server and
stops it with the server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading

from tests.instances import demo_env
from tests.jobs.conftest import REPO_ROOT, wait_for


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_cir5_demo_runs_the_worker_beside_the_server_and_stops_it(demo_copy):
    """Ctrl-C stops both, and so does SIGTERM (systemd, docker stop): tested with the
    latter, which goes through the same path. Demo notices link to this server's port.
    (The instance is a copy of the session's demo instance: `make demo` run again.)"""
    env = demo_env(demo_copy)
    env.pop("QUIETSHELF_SITE_URL", None)
    port = _free_port()
    demo = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "quietshelf", "demo", "--port", str(port)],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(demo.stdout), daemon=True).start()
    try:
        wait_for(lambda: any("Serving Quietshelf" in x for x in lines), timeout=300,
                 what="the demo to serve")  # fmt: skip
        started = next(x for x in lines if "Started the job worker" in x)
        pid = int(started.split("(pid ")[1].split(";")[0])
        assert _alive(pid)
        with open(f"/proc/{pid}/environ", "rb") as f:
            assert f"QUIETSHELF_SITE_URL=http://127.0.0.1:{port}".encode() in f.read()
        log = demo_copy / "logs" / "worker.log"
        wait_for(lambda: log.is_file() and "Worker " in log.read_text(), timeout=60,
                 what="the worker to start")  # fmt: skip
        wait_for(lambda: "job audit-seal" in log.read_text(), timeout=60,
                 what="the worker's first scheduled run")  # fmt: skip
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=90) == 0, "".join(lines)
        wait_for(lambda: not _alive(pid), timeout=30, what="the worker to exit")
        assert any("Job worker stopped." in x for x in lines)
    finally:
        if demo.poll() is None:
            demo.kill()
