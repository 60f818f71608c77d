"""INT-1: `make demo` (quietshelf demo) starts the SIP2 server beside `serve`, prints a demo
terminal account that logs in over SIP2, and stops the server with the demo."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import threading
import time

from tests.instances import demo_env
from tests.sip2.client import SipClient, run
from tests.sip2.conftest import REPO_ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_demo_starts_sip2_with_a_demo_terminal_int_1(demo_instance, demo_copy):
    """The instance was made by `quietshelf demo` (the session's demo instance, which printed
    the terminal's password once); this is `make demo` run again on a copy of it."""
    made = next(
        x for x in demo_instance.stdout.splitlines() if "terminal demo-kiosk, password" in x
    )
    password = re.search(r"password (\S+) \(shown only once\)", made).group(1)
    env = demo_env(demo_copy)
    port, sip2_port = _free_port(), _free_port()
    demo = subprocess.Popen(
        [sys.executable, "-m", "quietshelf", "demo", "--port", str(port), "--no-worker",
         "--sip2-port", str(sip2_port)],
        env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(demo.stdout), daemon=True).start()
    try:
        _wait(lambda: any("Serving Quietshelf" in x for x in lines), 300, "the demo to serve")
        # a second start names the terminal and never prints its password again
        again = next(x for x in lines if "terminal demo-kiosk" in x)
        assert "password printed when this instance was created" in again
        assert password not in "".join(lines)
        log = demo_copy / "logs" / "sip2.log"
        _wait(lambda: log.is_file() and "listening" in log.read_text(), 60, "the SIP2 server")

        async def login():
            async with SipClient("127.0.0.1", sip2_port) as c:
                return await c.login("demo-kiosk", password)

        assert run(login()).fixed["ok"] == "1"
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=90) == 0, "".join(lines)
        assert any("SIP2 server stopped." in x for x in lines)
    finally:
        if demo.poll() is None:
            demo.kill()
