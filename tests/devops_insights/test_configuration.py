"""Bad configuration fails fast with one clear line; good production configuration passes check --deploy."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.run_manage import assert_one_line_error, run_manage

PROD_KEY = "k3J9-vQ2m_8xZp4LwR7tYb1NcF6hD0sGaE5uIoPjKlMnBvCxZq9"


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("DATABASE_URL", "mysql://user@db/app", "unknown scheme 'mysql'"),
        ("DATABASE_URL", "postgres://user@db:notaport/app", "not a valid URL"),
        ("DATABASE_URL", "just-a-word", "is not a URL"),
        ("DATABASE_URL", "postgres://user@db:5432", "names no database"),
        ("REDIS_URL", "http://127.0.0.1:6379", "unknown scheme 'http'"),
        ("REDIS_URL", "redis://", "has no host"),
        ("MONGODB_URL", "postgres://x@y/z", "unknown scheme 'postgres'"),
        ("POLLER_DEFAULT_INTERVAL", "thirty", "expected a whole number"),
        ("POLLER_DEFAULT_INTERVAL", "2", "must be at least 5"),
        ("POLLER_CONNECT_TIMEOUT", "fast", "expected a number"),
        ("DJANGO_DEBUG", "maybe", "expected true or false"),
        ("LOG_FORMAT", "xml", "expected one of text, json"),
        ("DATABASE_POOL_MAX_SIZE", "many", "expected a whole number"),
        ("DATABASE_POOL_TIMEOUT", "0", "must be at least 0.1"),
        ("DATABASE_PREPARED_STATEMENTS", "sometimes", "expected true or false"),
        ("WEB_MAX_CONCURRENT_REQUESTS", "-1", "must be at least 0"),
        ("WEB_MAX_CONCURRENT_REQUESTS", "many", "expected a whole number"),
        ("WEB_QUEUE_TIMEOUT", "0", "must be at least 0.1"),
    ],
)
def test_it_rejects_bad_values_in_one_line(tmp_path: Path, variable: str, value: str, words: str) -> None:
    result = run_manage("check", env={variable: value}, tmp_path=tmp_path)
    assert_one_line_error(result, variable, words)


def test_it_never_echoes_a_password_from_a_bad_url(tmp_path: Path) -> None:
    result = run_manage("check", env={"DATABASE_URL": "mysql://admin:hunter2secret@db/app"}, tmp_path=tmp_path)
    assert result.returncode == 2
    assert "hunter2secret" not in result.stderr


def test_it_refuses_the_default_secret_key_in_production(tmp_path: Path) -> None:
    result = run_manage(
        "check", env={"DJANGO_DEBUG": "false", "DJANGO_ALLOWED_HOSTS": "example.com"}, tmp_path=tmp_path
    )
    assert_one_line_error(result, "DJANGO_SECRET_KEY", "must be set")


def test_it_refuses_empty_allowed_hosts_in_production(tmp_path: Path) -> None:
    result = run_manage("check", env={"DJANGO_DEBUG": "false", "DJANGO_SECRET_KEY": PROD_KEY}, tmp_path=tmp_path)
    assert_one_line_error(result, "DJANGO_ALLOWED_HOSTS", "must list")


def test_it_passes_check_deploy_with_production_settings(tmp_path: Path) -> None:
    env = {
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": PROD_KEY,
        "DJANGO_ALLOWED_HOSTS": "insights.example.com",
        "REDIS_URL": "redis://127.0.0.1:6379/14",
    }
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=env, tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_it_reads_secrets_from_files(tmp_path: Path) -> None:
    key_file = tmp_path / "secret_key"
    key_file.write_text(PROD_KEY + "\n")
    env = {"DJANGO_DEBUG": "false", "DJANGO_SECRET_KEY_FILE": str(key_file), "DJANGO_ALLOWED_HOSTS": "a.example"}
    result = run_manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(len(settings.SECRET_KEY))",
        env=env,
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(len(PROD_KEY))


def test_it_reports_an_unreadable_secret_file(tmp_path: Path) -> None:
    result = run_manage("check", env={"DJANGO_SECRET_KEY_FILE": str(tmp_path / "missing")}, tmp_path=tmp_path)
    assert_one_line_error(result, "DJANGO_SECRET_KEY_FILE", "cannot read")


def test_it_refuses_a_variable_and_its_file_together(tmp_path: Path) -> None:
    secret = tmp_path / "s"
    secret.write_text(PROD_KEY)
    result = run_manage(
        "check", env={"DJANGO_SECRET_KEY": PROD_KEY, "DJANGO_SECRET_KEY_FILE": str(secret)}, tmp_path=tmp_path
    )
    assert_one_line_error(result, "DJANGO_SECRET_KEY", "not both")


def test_it_runs_embedded_with_no_variable_set(tmp_path: Path) -> None:
    code = (
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'], s.CACHES['default']['BACKEND'],"
        " s.CHANNEL_LAYERS['default']['BACKEND'], s.METRIC_STORE)"
    )
    result = run_manage("shell", "--no-imports", "-c", code, env={}, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "devops_insights.sqlite3",
        "django_prometheus.cache.backends.locmem.LocMemCache",
        "channels.layers.InMemoryChannelLayer",
        "sql",
    ]


def test_it_switches_to_real_components_by_url(tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": "postgres://app:pw@db.internal:5432/insights",
        "REDIS_URL": "redis://cache.internal:6379/0",
        "MONGODB_URL": "mongodb://mongo.internal:27017",
    }
    code = (
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'], s.DATABASES['default']['NAME'], s.CACHES['default']['BACKEND'],"
        " s.CHANNEL_LAYERS['default']['BACKEND'], s.METRIC_STORE)"
    )
    # Only settings are read: nothing connects to these hosts.
    result = run_manage("shell", "--no-imports", "-c", code, env=env, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "devops_insights.postgresql",
        "insights",
        "django_prometheus.cache.backends.redis.RedisCache",
        "channels_redis.pubsub.RedisPubSubChannelLayer",
        "mongodb",
    ]


def test_it_bounds_postgresql_connections_with_a_pool(tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": "postgres://app:pw@db.internal:5432/insights",
        "DATABASE_POOL_MIN_SIZE": "1",
        "DATABASE_POOL_MAX_SIZE": "7",
        "DATABASE_POOL_TIMEOUT": "3.5",
    }
    code = (
        "from django.conf import settings as s; d = s.DATABASES['default']; p = d['OPTIONS']['pool'];"
        "print(d['CONN_MAX_AGE'], p['min_size'], p['max_size'], p['timeout'], d['CONN_HEALTH_CHECKS'])"
    )
    result = run_manage("shell", "--no-imports", "-c", code, env=env, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    # Django refuses persistent connections with a pool: closing a connection is what returns it.
    assert result.stdout.split() == ["0", "1", "7", "3.5", "True"]


@pytest.mark.parametrize(("value", "threshold"), [(None, "5"), ("true", "5"), ("false", "None")])
def test_it_prepares_the_bound_statements_unless_told_not_to(tmp_path: Path, value: str | None, threshold: str) -> None:
    env = {"DATABASE_URL": "postgres://app:pw@db.internal:5432/insights"}
    if value is not None:
        env["DATABASE_PREPARED_STATEMENTS"] = value
    code = "from django.conf import settings as s; print(s.DATABASES['default']['OPTIONS']['prepare_threshold'])"
    result = run_manage("shell", "--no-imports", "-c", code, env=env, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [threshold]


def test_it_keeps_persistent_connections_when_the_pool_is_off(tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": "postgres://app:pw@db.internal:5432/insights",
        "DATABASE_POOL_MAX_SIZE": "0",
        "DATABASE_CONN_MAX_AGE": "30",
    }
    code = (
        "from django.conf import settings as s; d = s.DATABASES['default'];"
        "print(d['CONN_MAX_AGE'], 'pool' in d.get('OPTIONS', {}))"
    )
    result = run_manage("shell", "--no-imports", "-c", code, env=env, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["30", "False"]


def test_it_rejects_a_pool_minimum_above_its_maximum(tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": "postgres://app:pw@db.internal:5432/insights",
        "DATABASE_POOL_MIN_SIZE": "9",
        "DATABASE_POOL_MAX_SIZE": "4",
    }
    result = run_manage("check", env=env, tmp_path=tmp_path)
    assert_one_line_error(result, "DATABASE_POOL_MIN_SIZE", "at most DATABASE_POOL_MAX_SIZE (4)")


def test_it_keeps_sqlite_connections_across_polls(tmp_path: Path) -> None:
    # Closing a thread's SQLite connection after every poll reopened the file (and checkpointed the WAL).
    code = (
        "from django.conf import settings as s; d = s.DATABASES['default'];"
        "print(d['ENGINE'].rsplit('.', 1)[-1], d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'])"
    )
    result = run_manage("shell", "--no-imports", "-c", code, env={"DATABASE_CONN_MAX_AGE": "45"}, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["sqlite3", "45", "True"]
