"""config.env: typed environment readers that fail loudly, and DATABASE_URL parsing."""

from __future__ import annotations

import os

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import database_from_url, env_bool, env_float, env_int, env_list, env_str

VAR = "MODELHUB_TEST_SETTING"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    monkeypatch.delenv(VAR, raising=False)
    monkeypatch.delenv("DATABASE_CONN_MAX_AGE", raising=False)


# --- env_bool --------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["1", "true", "yes", "on", "TRUE", "Yes", " on ", "On\n"])
def test_env_bool_true_values(monkeypatch, raw):
    monkeypatch.setenv(VAR, raw)
    assert env_bool(VAR, default=False) is True


@pytest.mark.parametrize("raw", ["0", "false", "no", "off", "", "FALSE", " Off ", "   "])
def test_env_bool_false_values(monkeypatch, raw):
    monkeypatch.setenv(VAR, raw)
    assert env_bool(VAR, default=True) is False


@pytest.mark.parametrize("default", [True, False])
def test_env_bool_unset_uses_default(default):
    assert VAR not in os.environ
    assert env_bool(VAR, default=default) is default


@pytest.mark.parametrize("raw", ["maybe", "2", "y", "enabled", "tru"])
def test_env_bool_unparseable_raises_naming_the_variable(monkeypatch, raw):
    monkeypatch.setenv(VAR, raw)
    with pytest.raises(ImproperlyConfigured, match=VAR) as excinfo:
        env_bool(VAR)
    assert repr(raw) in str(excinfo.value)


# --- env_float -------------------------------------------------------------------------


def test_env_float_parses_numbers_and_defaults_when_blank(monkeypatch):
    assert env_float(VAR, 0.6) == 0.6
    monkeypatch.setenv(VAR, " 0.45 ")
    assert env_float(VAR, 0.6) == 0.45
    monkeypatch.setenv(VAR, "")
    assert env_float(VAR, 0.6) == 0.6


def test_env_float_rejects_what_is_not_a_number(monkeypatch):
    monkeypatch.setenv(VAR, "six tenths")
    with pytest.raises(ImproperlyConfigured, match=f"{VAR} must be a number"):
        env_float(VAR, 0.6)


# --- env_int ---------------------------------------------------------------------------


def test_env_int_parses_whole_numbers(monkeypatch):
    monkeypatch.setenv(VAR, "42")
    assert env_int(VAR, 7) == 42
    monkeypatch.setenv(VAR, "-3")
    assert env_int(VAR, 7) == -3
    monkeypatch.setenv(VAR, " 12 ")
    assert env_int(VAR, 7) == 12


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_env_int_unset_or_blank_uses_default(monkeypatch, raw):
    if raw is not None:
        monkeypatch.setenv(VAR, raw)
    assert env_int(VAR, 40_000_000) == 40_000_000


@pytest.mark.parametrize("raw", ["12abc", "1.5", "ten", "0x10"])
def test_env_int_unparseable_raises_naming_the_variable(monkeypatch, raw):
    monkeypatch.setenv(VAR, raw)
    with pytest.raises(ImproperlyConfigured, match=VAR) as excinfo:
        env_int(VAR, 1)
    assert repr(raw) in str(excinfo.value)


# --- env_list / env_str ----------------------------------------------------------------


def test_env_list_splits_and_strips(monkeypatch):
    monkeypatch.setenv(VAR, " example.com, www.example.com ,,localhost ,  ")
    assert env_list(VAR) == ["example.com", "www.example.com", "localhost"]


def test_env_list_single_value(monkeypatch):
    monkeypatch.setenv(VAR, "example.com")
    assert env_list(VAR) == ["example.com"]


def test_env_list_empty_value_is_empty_list(monkeypatch):
    monkeypatch.setenv(VAR, "")
    assert env_list(VAR, ["default"]) == []


def test_env_list_unset_uses_a_copy_of_default():
    default = ["a", "b"]
    result = env_list(VAR, default)
    assert result == ["a", "b"]
    result.append("c")
    assert default == ["a", "b"]
    assert env_list(VAR) == []


def test_env_str(monkeypatch):
    assert env_str(VAR, "fallback") == "fallback"
    monkeypatch.setenv(VAR, "value")
    assert env_str(VAR, "fallback") == "value"


# --- database_from_url -----------------------------------------------------------------


def test_sqlite_three_slashes_is_relative_to_base_dir(tmp_path):
    db = database_from_url("sqlite:///var/db.sqlite3", tmp_path)
    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert db["NAME"] == os.path.join(str(tmp_path), "var/db.sqlite3")
    assert os.path.isabs(db["NAME"])


def test_sqlite_four_slashes_is_absolute(tmp_path):
    db = database_from_url("sqlite:////tmp/x.db", tmp_path)
    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert db["NAME"] == "/tmp/x.db"


def test_sqlite_path_is_unquoted(tmp_path):
    db = database_from_url("sqlite:///var/my%20db.sqlite3", tmp_path)
    assert db["NAME"] == os.path.join(str(tmp_path), "var/my db.sqlite3")


def test_sqlite_waits_for_locks_and_uses_wal(tmp_path):
    options = database_from_url("sqlite:///db.sqlite3", tmp_path)["OPTIONS"]
    assert options["timeout"] >= 1
    assert options["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in options["init_command"]


def test_postgres_url_is_parsed_with_unquoted_password(tmp_path):
    db = database_from_url("postgres://u:p%40ss@h:5433/name", tmp_path)
    assert db["ENGINE"] == "config.postgresql"
    assert db["USER"] == "u"
    assert db["PASSWORD"] == "p@ss"
    assert db["HOST"] == "h"
    assert db["PORT"] == "5433"
    assert db["NAME"] == "name"
    assert db["CONN_MAX_AGE"] == 60
    assert db["CONN_HEALTH_CHECKS"] is True


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "pgsql"])
def test_postgres_scheme_aliases(tmp_path, scheme):
    db = database_from_url(f"{scheme}://user@db.internal/hub", tmp_path)
    assert db["ENGINE"] == "config.postgresql"
    assert db["NAME"] == "hub"
    assert db["PORT"] == ""
    assert db["PASSWORD"] == ""


def test_postgres_without_database_name_defaults_to_postgres(tmp_path):
    assert database_from_url("postgres://u:p@h", tmp_path)["NAME"] == "postgres"


def test_postgres_conn_max_age_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_CONN_MAX_AGE", "0")
    assert database_from_url("postgres://u:p@h/n", tmp_path)["CONN_MAX_AGE"] == 0
    monkeypatch.setenv("DATABASE_CONN_MAX_AGE", "soon")
    with pytest.raises(ImproperlyConfigured, match="DATABASE_CONN_MAX_AGE"):
        database_from_url("postgres://u:p@h/n", tmp_path)


@pytest.mark.parametrize("url", ["mysql://u:p@h/db", "redis://localhost", "", "db.sqlite3"])
def test_unknown_scheme_raises(tmp_path, url):
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        database_from_url(url, tmp_path)


def test_unknown_scheme_error_does_not_echo_the_password(tmp_path):
    with pytest.raises(ImproperlyConfigured) as excinfo:
        database_from_url("mysql://u:hunter2@h/db", tmp_path)
    assert "hunter2" not in str(excinfo.value)
    assert "mysql" in str(excinfo.value)
