"""Serve the site and run a Celery worker beside it, for `make run`.

The worker uses kombu's filesystem transport (no Redis needed); both processes share the
SQLite database and var/. Stopping this command stops both.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the web server and a background worker together (embedded mode)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args, **options) -> None:
        worker = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "config", "worker",
                "--queues", "scan,images,default", "--pool", "solo",
                # The periodic sweeps run inside this one worker (celery beat, embedded).
                "--beat", "--schedule", str(Path(settings.VAR_DIR) / "celerybeat-schedule"),
                "--without-gossip", "--without-mingle", "--without-heartbeat",
                "--loglevel", "INFO",
            ]
        )  # fmt: skip
        self.stdout.write(f"Background worker started (pid {worker.pid}).")

        def stop(signum, frame) -> None:
            raise SystemExit(0)

        # `kill` (SIGTERM) must stop the worker too, not only Ctrl-C.
        signal.signal(signal.SIGTERM, stop)
        try:
            call_command("runserver", options["addrport"], use_reloader=False)
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
