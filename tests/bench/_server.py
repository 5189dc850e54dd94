"""A real web server for benchmarks: gunicorn on 127.0.0.1 over a throwaway SQLite site."""

from __future__ import annotations

import http.client
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class BenchServer:
    """`with BenchServer() as server:` migrates a fresh site, starts gunicorn, stops it."""

    def __init__(self, workers: int = 1) -> None:
        self.var = Path(tempfile.mkdtemp(prefix="modelhub-bench-"))
        self.port = free_port()
        self.workers = workers
        self.env = {
            **os.environ,
            "VAR_DIR": str(self.var),
            "DEBUG": "1",
            "SECRET_KEY": "bench",
            "ALLOWED_HOSTS": "127.0.0.1",
            "CELERY_TASK_ALWAYS_EAGER": "1",
            "LOG_LEVEL": "WARNING",
        }
        self.env.pop("DATABASE_URL", None)
        self.env.pop("REDIS_URL", None)

    def manage(self, *args: str) -> str:
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, check=True,
            capture_output=True, text=True,
        ).stdout  # fmt: skip

    def __enter__(self) -> BenchServer:
        self.manage("migrate", "--noinput")
        self.manage("shell", "-c", "from community.models import User; "
                    "User.objects.create_user('bench', password='bench-password-1')")  # fmt: skip
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind",
             f"127.0.0.1:{self.port}", "--workers", str(self.workers), "--timeout", "600"],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)

    def worker_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True,
                             text=True).stdout  # fmt: skip
        return [int(pid) for pid in out.split()]

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)

    def login(self) -> dict[str, str]:
        """Headers (cookie and CSRF token) of a signed-in session."""
        conn = self.connection()
        conn.request("GET", "/accounts/login/")
        response = conn.getresponse()
        response.read()
        csrf = re.search(r"csrftoken=([^;]+)", response.getheader("Set-Cookie")).group(1)
        body = urlencode({"username": "bench", "password": "bench-password-1",
                          "csrfmiddlewaretoken": csrf})  # fmt: skip
        conn.request("POST", "/accounts/login/", body, {
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={csrf}",
            "Referer": f"http://127.0.0.1:{self.port}/accounts/login/",
        })  # fmt: skip
        response = conn.getresponse()
        response.read()
        session = re.search(r"sessionid=([^;]+)", response.getheader("Set-Cookie")).group(1)
        csrf = re.search(r"csrftoken=([^;]+)", response.getheader("Set-Cookie") or "")
        token = csrf.group(1) if csrf else body.split("csrfmiddlewaretoken=")[1]
        return {"Cookie": f"sessionid={session}; csrftoken={token}", "X-CSRFToken": token}


def rss_kib(pid: int) -> int:
    """Peak resident memory of a process (VmHWM), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0
