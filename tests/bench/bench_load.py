"""Latency under load on the large seeded database, and each endpoint against its own SQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/modelhub_big \\
        .venv/bin/python tests/bench/bench_load.py [--duration 10] [--connections 8]

Seed the database first (`manage.py seed_large`). The script:

1. picks real targets from the data (a popular published model, a file hash, a version);
2. starts gunicorn (production settings: DEBUG off, persistent database connections,
   downloads handed to the proxy by X-Accel-Redirect so no bytes are sent);
3. runs `wrk` (Debian's package) from a second process on loopback against each endpoint:
   once with one connection (the time of one request, nothing queued) and once with
   `--connections` (throughput and the latency people see when the site is busy);
4. in this process, calls each endpoint once with `django.test.Client` to capture the SQL
   it sends (and count the queries), then runs that SQL alone, `--sql-repeats` times,
   inside a transaction that is rolled back, and reports app time / SQL time.

Figures go to stdout as a Markdown table (and JSON with --json) for docs/PERFORMANCE.md.

With --in-process there is no server and no wrk: each endpoint is timed in this process
(minimum and median of 9 calls after 6), what the view, templates and SQL cost.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

# wrk's Lua hook: the latency distribution and totals as one JSON line (microseconds).
WRK_REPORT = """
done = function(summary, latency, requests)
  io.write(string.format(
    'WRKJSON {"requests": %d, "seconds": %f, "errors": %d, "non2xx": %d, '
    .. '"p50": %d, "p95": %d, "p99": %d, "max": %d}\\n',
    summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""


def _server_env(
    database_url: str, static_root: str, redis_url: str, *, kept_answers: bool = True
) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SECRET_KEY": "bench-" + "x" * 60,
        "ALLOWED_HOSTS": "127.0.0.1,testserver",
        "SITE_URL": "http://127.0.0.1",
        "DATABASE_URL": database_url,
        "DATABASE_CONN_MAX_AGE": "600",
        # The cache every web process shares (list totals, rate limits), as in production.
        "REDIS_URL": redis_url,
        # Anonymous API answers kept a minute (models_hub/api/answers.py), as in production;
        # --make-every-answer measures what making each one costs.
        "HUB_API_ANSWER_CACHE_SECONDS": "60" if kept_answers else "0",
        # Production serves hashed static names from collectstatic's manifest.
        "STATIC_ROOT": static_root,
        # The proxy would send the bytes; the endpoint's own work is what is measured.
        "HUB_DOWNLOAD_ACCEL_PREFIX": "/internal-media/",
        # Limits per address would stop a load generator on one address after a minute.
        "HUB_API_REQUESTS_PER_MINUTE_PER_ADDRESS": "100000000",
        "HUB_API_REQUESTS_PER_MINUTE_PER_KEY": "100000000",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "SECURE_HSTS_SECONDS": "0",
        "LOG_LEVEL": "WARNING",
    }


def _setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django

    django.setup()


def targets() -> dict[str, str]:
    """Paths worth measuring, built from what the database holds."""
    from models_hub.choices import NsfwLevel, Status
    from models_hub.models import Model, ModelFile, Tag

    public = Model.objects.filter(
        status=Status.PUBLISHED, owner__is_active=True, nsfw_level=NsfwLevel.PG
    )
    popular = public.order_by("-download_count").first()
    if popular is None:
        raise SystemExit("No published PG model: seed the database first (manage.py seed_large).")
    version = popular.versions.filter(status=Status.PUBLISHED).order_by("-id").first()
    file = ModelFile.objects.filter(version=version).first()
    # The model in the middle of the popularity order: what a typical model page costs (the
    # most downloaded one has thousands of reviews and hundreds of comments).
    typical = public.order_by("download_count", "id")[public.count() // 2]
    tag = Tag.objects.order_by("id").first()
    base = version.base_model
    return {
        "browse (newest)": "/",
        "browse sort=downloads": "/?sort=downloads",
        "browse sort=likes": "/?sort=likes",
        "browse type=LORA": "/?type=LORA",
        f"browse base={base.slug}": f"/?base={base.slug}",
        "browse commercial=Sell": "/?commercial=Sell",
        "browse no_credit+derivatives": "/?no_credit=1&derivatives=1",
        f"browse tag={tag.name}": f"/?tag={tag.name}",
        "browse q=castle": "/?q=castle",
        # A word 30% of models match: what ranking by bands of downloads is for.
        "browse q=anime": "/?q=anime",
        "browse page=50 (by number: OFFSET)": "/?page=50",
        "browse page=50 (Next link: cursor)": _next_link("/?page=49"),
        "model page (most downloaded)": popular.get_absolute_url(),
        "model page (median downloads)": typical.get_absolute_url(),
        "api models limit=100": "/api/v1/models?limit=100",
        "api models limit=100 types=LORA": "/api/v1/models?limit=100&types=LORA",
        "api models limit=100 sort=Newest": "/api/v1/models?limit=100&sort=Newest",
        f"api models limit=100 baseModels={base.name}": (
            f"/api/v1/models?limit=100&baseModels={base.name.replace(' ', '%20')}"
        ),
        "api models limit=100 query=castle": "/api/v1/models?limit=100&query=castle",
        "api models limit=100 query=anime": "/api/v1/models?limit=100&query=anime",
        "api model detail": f"/api/v1/models/{popular.pk}",
        "api by-hash": f"/api/v1/model-versions/by-hash/{file.sha256}",
        "api images limit=100": "/api/v1/images?limit=100",
        "download (X-Accel, no bytes)": f"/api/download/models/{version.pk}",
    }


def _next_link(path: str) -> str:
    """The address browse's "Next" link gives on `path` (a keyset cursor)."""
    import html
    import re

    from django.test import Client

    page = Client().get(path).content.decode()
    found = re.search(r'<a href="\?([^"]*cursor=[^"]*)"[^>]*>', page)
    if found is None:
        raise SystemExit(f"No cursor link on {path}")
    return "/?" + html.unescape(found.group(1))


def run_wrk(url: str, *, connections: int, seconds: int, threads: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_REPORT)
    try:
        out = subprocess.run(
            ["wrk", f"-t{min(threads, connections)}", f"-c{connections}", f"-d{seconds}s",
             "--timeout", "10s", "-s", script.name, url],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    finally:
        os.unlink(script.name)
    line = next(line for line in out.splitlines() if line.startswith("WRKJSON "))
    data = json.loads(line.removeprefix("WRKJSON "))
    data["rps"] = data["requests"] / data["seconds"]
    for key in ("p50", "p95", "p99", "max"):
        data[key] /= 1000.0  # ms
    return data


def sql_of(path: str) -> tuple[int, list[str], int]:
    """The statements one anonymous GET of `path` sends, and its status."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.get(path)  # warm: caches, prepared connection
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    statements = [q["sql"] for q in captured.captured_queries]
    return response.status_code, statements, len(statements)


def time_in_process(path: str, *, warm: int = 6, timed: int = 9) -> tuple[int, list[float]]:
    """An anonymous GET of `path` in this process: its status and the sorted ms of `timed`
    calls after `warm` ones (caches filled, connection open). No server, no network: what
    the view, the templates and the SQL cost."""
    from django.test import Client

    client = Client()
    for _ in range(warm):
        client.get(path)
    timings = []
    for _ in range(timed):
        started = time.perf_counter()
        response = client.get(path)
        timings.append((time.perf_counter() - started) * 1000)
    return response.status_code, sorted(timings)


def time_sql(statements: list[str], repeats: int) -> float:
    """Median ms of running `statements` one after another, alone, rolled back after."""
    from django.db import connection, transaction

    totals = []
    for _ in range(repeats):
        with transaction.atomic():
            with connection.cursor() as cursor:
                started = time.perf_counter()
                for sql in statements:
                    if sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO")):
                        continue
                    cursor.execute(sql)
                    if cursor.description is not None:
                        cursor.fetchall()
                totals.append((time.perf_counter() - started) * 1000)
            transaction.set_rollback(True)
    return statistics.median(totals)


def _figure(value: float | None) -> str:
    # No SQL at all (a kept answer): no ratio to give.
    return "-" if value is None else f"{value:.1f}"


class Gunicorn:
    def __init__(self, env: dict[str, str], workers: int, port: int) -> None:
        self.env, self.workers, self.port = env, workers, port

    def __enter__(self) -> Gunicorn:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi:application",
             "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers),
             "--worker-class", "sync", "--timeout", "120", "--log-level", "warning"],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=sys.stderr,
        )  # fmt: skip
        import urllib.request

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v1/tags?limit=1")
                return self
            except OSError:
                time.sleep(0.3)
        raise SystemExit("gunicorn did not start")

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--sql-repeats", type=int, default=20)
    parser.add_argument("--only", default="", help="run the endpoints whose name has this")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="no server: time each endpoint in this process (django.test.Client)",
    )
    parser.add_argument(
        "--make-every-answer",
        action="store_true",
        help="no kept API answers: every request is made (HUB_API_ANSWER_CACHE_SECONDS=0)",
    )
    parser.add_argument("--json", default="", help="also write the figures to this file")
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        raise SystemExit("Give a PostgreSQL DATABASE_URL (the seeded database).")

    static = tempfile.mkdtemp(prefix="modelhub-load-static-")
    env = _server_env(
        args.database_url, static, args.redis_url, kept_answers=not args.make_every_answer
    )
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT, env=env, check=True,
    )  # fmt: skip
    _setup_django(env)
    paths = {k: v for k, v in targets().items() if args.only in k}
    if args.in_process:
        for name, path in paths.items():
            status, timings = time_in_process(path)
            median = statistics.median(timings)
            print(f"{name}: {status}; min {timings[0]:.1f} ms, median {median:.1f} ms")
        return
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    with Gunicorn(env, args.workers, args.port):
        results = []
        for name, path in paths.items():
            url = f"http://127.0.0.1:{args.port}{path}"
            status, statements, queries = sql_of(path)
            single = run_wrk(url, connections=1, seconds=args.duration, threads=1)
            loaded = run_wrk(
                url, connections=args.connections, seconds=args.duration, threads=args.threads
            )
            sql_ms = time_sql(statements, args.sql_repeats)
            row = {
                "name": name, "path": path, "status": status, "queries": queries,
                "single": single, "loaded": loaded, "sql_ms": sql_ms,
                "ratio": single["p50"] / sql_ms if statements else None,
            }  # fmt: skip
            results.append(row)
            print(
                f"{name}: {status}, {queries} queries; one at a time p50 {single['p50']:.1f} "
                f"p95 {single['p95']:.1f} ms; {args.connections} at once p50 "
                f"{loaded['p50']:.1f} p95 {loaded['p95']:.1f} p99 {loaded['p99']:.1f} ms, "
                f"{loaded['rps']:.0f} req/s; SQL alone {sql_ms:.1f} ms; "
                f"ratio {_figure(row['ratio'])}",
                flush=True,
            )
    print()
    print(
        f"| endpoint | status | queries | 1 conn p50 | 1 conn p95 | {args.connections} conn p50 "
        f"| p95 | p99 | req/s | SQL alone ms | app / SQL |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        s, lo = r["single"], r["loaded"]
        errors = f" ({lo['errors'] + lo['non2xx']} errors)" if lo["errors"] or lo["non2xx"] else ""
        print(
            f"| {r['name']} | {r['status']} | {r['queries']} | {s['p50']:.1f} | {s['p95']:.1f} "
            f"| {lo['p50']:.1f} | {lo['p95']:.1f} | {lo['p99']:.1f} | {lo['rps']:.0f}{errors} "
            f"| {r['sql_ms']:.1f} | {_figure(r['ratio'])} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    shutil.rmtree(static, ignore_errors=True)


if __name__ == "__main__":
    main()
