"""docker-compose.yml, Dockerfile and .env.example agree with each other and with the settings.

No Docker engine is needed: the files are parsed and checked as data.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
SETTINGS_SOURCES = [ROOT / "config" / "settings.py", ROOT / "config" / "env.py"]

ENV_READERS = {"env_str", "env_bool", "env_int", "env_float", "env_list"}
APP_SERVICES = {"migrate", "web", "worker-scan", "worker-default", "beat"}
REQUIRED_SERVICES = {"web", "worker-scan", "worker-default", "beat", "postgres", "redis", "minio"}


# --- Helpers ---------------------------------------------------------------------------------


def variables_read_by_settings() -> set[str]:
    """Names passed as a literal to an env_* reader or os.environ/getenv."""
    names: set[str] = set()
    for source in SETTINGS_SOURCES:
        tree = ast.parse(source.read_text(), filename=str(source))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and node.args:
                func = node.func
                called = func.id if isinstance(func, ast.Name) else ast.unparse(func)
                if called in ENV_READERS | {"os.environ.get", "os.getenv"}:
                    first = node.args[0]
                    if isinstance(first, ast.Constant) and isinstance(first.value, str):
                        names.add(first.value)
            elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
                key = node.slice
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    names.add(key.value)
    return names


def as_argv(command: str | list[str] | None) -> list[str]:
    if command is None:
        return []
    if isinstance(command, str):
        return shlex.split(command)
    return [str(part) for part in command]


def environment_of(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) for item in env)
        return {pair[0]: (pair[1] if len(pair) > 1 else "") for pair in pairs}
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


def queues_of(service: dict) -> set[str]:
    argv = as_argv(service.get("command"))
    for i, arg in enumerate(argv):
        if arg in {"-Q", "--queues"} and i + 1 < len(argv):
            return {q.strip() for q in argv[i + 1].split(",") if q.strip()}
        if arg.startswith("--queues="):
            return {q.strip() for q in arg.split("=", 1)[1].split(",") if q.strip()}
        if arg.startswith("-Q") and len(arg) > 2:
            return {q.strip() for q in arg[2:].split(",") if q.strip()}
    return set()


def healthcheck_argv(service: dict) -> list[str]:
    test = (service.get("healthcheck") or {}).get("test")
    argv = as_argv(test)
    if argv and argv[0] in {"CMD", "CMD-SHELL"}:
        argv = argv[1:]
    return argv


def named_volumes_of(service: dict) -> set[str]:
    names = set()
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            if volume.get("type", "volume") == "volume" and volume.get("source"):
                names.add(volume["source"])
            continue
        source = str(volume).split(":", 1)[0]
        if ":" in str(volume) and not source.startswith(("/", ".", "~", "$")):
            names.add(source)
    return names


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict) -> dict[str, dict]:
    return compose["services"]


@pytest.fixture(scope="module")
def app_services(services: dict[str, dict]) -> dict[str, dict]:
    """Services that run the project's own image (built from the Dockerfile)."""
    return {name: svc for name, svc in services.items() if "build" in svc}


# --- docker-compose.yml ----------------------------------------------------------------------


def test_compose_file_parses_to_services_and_volumes(compose: dict) -> None:
    assert isinstance(compose, dict)
    assert isinstance(compose.get("services"), dict) and compose["services"]
    assert isinstance(compose.get("volumes"), dict) and compose["volumes"]


def test_the_whole_stack_is_described(services: dict[str, dict]) -> None:
    missing = REQUIRED_SERVICES - services.keys()
    assert not missing, f"services missing from docker-compose.yml: {sorted(missing)}"


def test_app_services_are_built_from_the_dockerfile(app_services: dict[str, dict]) -> None:
    assert {"web", "worker-scan", "worker-default", "beat"} <= app_services.keys()
    assert set(app_services) <= APP_SERVICES, f"unexpected app services: {sorted(app_services)}"
    images = {svc.get("image") for svc in app_services.values()}
    assert len(images) == 1, f"app services should share one image, got {images}"


def test_postgres_and_redis_versions(services: dict[str, dict]) -> None:
    assert str(services["postgres"]["image"]).startswith("postgres:16")
    assert str(services["redis"]["image"]).startswith("redis:7")
    assert str(services["minio"]["image"]).startswith("minio/minio")


def test_stateful_services_and_web_have_healthchecks(services: dict[str, dict]) -> None:
    for name in ("postgres", "redis", "minio", "web"):
        health = services[name].get("healthcheck")
        assert health and not health.get("disable"), f"{name} needs a healthcheck"
        assert healthcheck_argv(services[name]), f"{name} healthcheck has no test command"
    assert "pg_isready" in healthcheck_argv(services["postgres"])
    assert healthcheck_argv(services["redis"])[:2] == ["redis-cli", "ping"]
    web = " ".join(healthcheck_argv(services["web"]))
    # The server itself, without following production's redirect to HTTPS (which has no
    # listener inside the container): any answer below 500 is healthy.
    assert "HTTPConnection('127.0.0.1', 8000" in web and "status >= 500" in web


def test_redis_persists_with_append_only_file(services: dict[str, dict]) -> None:
    argv = as_argv(services["redis"].get("command"))
    assert "--appendonly" in argv
    assert argv[argv.index("--appendonly") + 1] == "yes"


def test_redis_evicts_only_cache_entries_when_full(services: dict[str, dict]) -> None:
    """Kept API answers can fill memory; an eviction policy over all keys would also drop
    the broker's queued messages, which carry no expiry."""
    argv = as_argv(services["redis"].get("command"))
    assert "--maxmemory" in argv
    assert argv[argv.index("--maxmemory-policy") + 1] == "volatile-lru"


def test_minio_serves_data_with_a_console(services: dict[str, dict]) -> None:
    argv = as_argv(services["minio"].get("command"))
    assert argv[:2] == ["server", "/data"]
    assert "--console-address" in argv


def test_workers_consume_their_queues(services: dict[str, dict]) -> None:
    scan = as_argv(services["worker-scan"]["command"])
    default = as_argv(services["worker-default"]["command"])
    assert scan[:4] == ["celery", "-A", "config", "worker"]
    assert default[:4] == ["celery", "-A", "config", "worker"]
    assert queues_of(services["worker-scan"]) == {"scan"}
    assert queues_of(services["worker-default"]) == {"images", "default"}
    for flag in ("--concurrency", "--prefetch-multiplier"):
        assert flag in scan and scan[scan.index(flag) + 1] == "1", f"worker-scan needs {flag} 1"


def test_beat_runs_the_scheduler(services: dict[str, dict]) -> None:
    assert as_argv(services["beat"]["command"])[:4] == ["celery", "-A", "config", "beat"]


def test_every_queue_in_the_routes_has_a_worker(services: dict[str, dict]) -> None:
    settings_source = SETTINGS_SOURCES[0].read_text()
    routed = set(re.findall(r'\{"queue":\s*"([^"]+)"\}', settings_source))
    routed.add(re.search(r'CELERY_TASK_DEFAULT_QUEUE\s*=\s*"([^"]+)"', settings_source).group(1))
    consumed = queues_of(services["worker-scan"]) | queues_of(services["worker-default"])
    assert routed, "could not read the queues from config/settings.py"
    assert routed <= consumed, f"queues nobody consumes: {sorted(routed - consumed)}"


def test_settings_variables_are_found() -> None:
    names = variables_read_by_settings()
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "S3_BUCKET"} <= names
    assert "DATABASE_CONN_MAX_AGE" in names  # read in config/env.py


def test_app_environment_uses_only_variables_the_settings_read(
    app_services: dict[str, dict],
) -> None:
    known = variables_read_by_settings()
    for name, service in app_services.items():
        env = environment_of(service)
        assert env, f"{name} has no environment"
        unknown = set(env) - known
        assert not unknown, f"{name} passes variables the settings never read: {sorted(unknown)}"


def test_app_services_share_the_production_environment(app_services: dict[str, dict]) -> None:
    envs = [environment_of(svc) for svc in app_services.values()]
    assert all(env == envs[0] for env in envs), "app services should share one environment"
    env = envs[0]
    assert env["DEBUG"] == "0"
    assert env["SECRET_KEY"].startswith("${SECRET_KEY:?")
    assert env["DATABASE_URL"] == "postgres://modelhub:modelhub@postgres:5432/modelhub"
    assert env["REDIS_URL"] == "redis://redis:6379/0"
    # Django's cache.clear() flushes its Redis database: the broker's queues must not live there.
    assert env.get("CELERY_BROKER_URL", env["REDIS_URL"]) != env["REDIS_URL"]
    assert env.get("CELERY_TASK_ALWAYS_EAGER", "0") in {"0", "false", ""}
    assert env["S3_ENDPOINT_URL"] == "http://minio:9000"
    for name in ("S3_BUCKET", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "S3_REGION"):
        assert env.get(name), f"{name} must be set for the app services"
    assert "ALLOWED_HOSTS" in env and "TRUST_PROXY_HEADERS" in env
    assert "127.0.0.1" in env["ALLOWED_HOSTS"], "the web healthcheck calls 127.0.0.1"


def test_postgres_credentials_match_database_url(
    services: dict[str, dict], app_services: dict[str, dict]
) -> None:
    pg = environment_of(services["postgres"])
    url = environment_of(app_services["web"])["DATABASE_URL"]
    expected = f"postgres://{pg['POSTGRES_USER']}:{pg['POSTGRES_PASSWORD']}@postgres:5432/"
    assert url == expected + pg["POSTGRES_DB"]


def test_app_services_wait_for_healthy_postgres_and_redis(app_services: dict[str, dict]) -> None:
    for name, service in app_services.items():
        depends = service.get("depends_on")
        assert isinstance(depends, dict), f"{name} should use depends_on with conditions"
        for dependency in ("postgres", "redis"):
            condition = depends.get(dependency, {}).get("condition")
            assert condition == "service_healthy", f"{name} must wait for a healthy {dependency}"


def test_storage_users_wait_for_the_bucket(services: dict[str, dict]) -> None:
    for name in ("web", "worker-scan", "worker-default"):
        condition = services[name]["depends_on"].get("minio-init", {}).get("condition")
        assert condition == "service_completed_successfully", f"{name} needs the bucket first"
    init = services["minio-init"]
    assert init["depends_on"]["minio"]["condition"] == "service_healthy"
    script = " ".join(as_argv(init.get("entrypoint")) + as_argv(init.get("command")))
    assert "mc mb" in script
    assert "mc anonymous set none" in script, "the bucket must stay private"


def test_migrations_run_before_web_and_workers(services: dict[str, dict]) -> None:
    migrate = as_argv(services["migrate"]["command"])
    assert migrate[-3:] == ["manage.py", "migrate", "--noinput"]
    assert services["migrate"].get("restart") == "no"
    for name in ("web", "worker-scan", "worker-default", "beat"):
        condition = services[name]["depends_on"].get("migrate", {}).get("condition")
        assert condition == "service_completed_successfully", f"{name} must wait for migrate"


def test_web_runs_gunicorn_on_port_8000(services: dict[str, dict]) -> None:
    argv = as_argv(services["web"].get("command"))
    assert argv[:2] == ["gunicorn", "config.wsgi:application"]
    assert argv[argv.index("--bind") + 1] == "0.0.0.0:8000"


def test_every_named_volume_is_declared(compose: dict, services: dict[str, dict]) -> None:
    declared = set(compose.get("volumes") or {})
    used = set()
    for name, service in services.items():
        undeclared = named_volumes_of(service) - declared
        assert not undeclared, f"{name} uses undeclared volumes {sorted(undeclared)}"
        used |= named_volumes_of(service)
    for name in ("postgres", "redis", "minio"):
        assert named_volumes_of(services[name]), f"{name} must keep its data in a named volume"
    assert used == declared, f"declared but unused volumes: {sorted(declared - used)}"


# --- Dockerfile and .env.example -------------------------------------------------------------


def test_dockerfile_runs_gunicorn_as_non_root() -> None:
    instructions = dockerfile_instructions()
    keywords = [keyword for keyword, _ in instructions]
    assert instructions[0] == ("FROM", "python:3.11-slim")
    cmd = [rest for keyword, rest in instructions if keyword == "CMD"]
    assert len(cmd) == 1
    argv = json.loads(cmd[0])
    assert argv[0] == "gunicorn" and "config.wsgi:application" in argv
    assert "0.0.0.0:8000" in argv
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users and users[-1] not in {"root", "0"}
    assert ("EXPOSE", "8000") in instructions
    assert keywords.index("USER") < keywords.index("CMD")


def test_dockerfile_build_steps() -> None:
    instructions = dockerfile_instructions()
    runs = [rest for keyword, rest in instructions if keyword == "RUN"]
    assert any("pip install --no-cache-dir -r requirements.lock" in run for run in runs)
    collectstatic = [run for run in runs if "collectstatic --noinput" in run]
    assert collectstatic and "SECRET_KEY=" in collectstatic[0]
    # The dummy key is for that step only: no ENV may bake a SECRET_KEY into the image.
    assert not any("SECRET_KEY" in rest for keyword, rest in instructions if keyword == "ENV")


def test_dockerignore_keeps_local_state_out() -> None:
    entries = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for entry in (".venv", "var", ".git", ".env", ".pytest_cache", ".ruff_cache"):
        assert entry in entries, f".dockerignore should list {entry}"
    assert entries & {"__pycache__", "**/__pycache__"}


def test_env_example_documents_every_variable() -> None:
    lines = ENV_EXAMPLE.read_text().splitlines()
    documented = {
        match.group(1) for line in lines if (match := re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=", line))
    }
    missing = variables_read_by_settings() - documented
    assert not missing, f".env.example does not document {sorted(missing)}"
    unknown = documented - variables_read_by_settings()
    assert not unknown, f".env.example names variables the settings never read: {sorted(unknown)}"
