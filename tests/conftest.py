from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import services

# pyproject's per-test timeout (180 s) counts the set-up of the fixtures a test is first to use. An end-to-end
# test's are processes: a migrated database, collected static files, seeded history, daphne, pollers, Chromium,
# which take minutes on two cores shared with other test runs. This is a guard against a hang, not a wait:
# the tests wait on state, each wait with its own deadline.
SLOW_TIMEOUT = 900


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("slow") and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT))


def pytest_configure(config: pytest.Config) -> None:
    """Give the store contract suite one SQLite and one PostgreSQL alias, whatever the default is."""
    from django.conf import settings
    from environ import Env

    default_engine = settings.DATABASES["default"]["ENGINE"]
    # SQLite test databases are files, not Django's in-memory shared-cache database: that one fails
    # concurrent writers (poller worker threads, lease claimers) at once with "database table is locked"
    # instead of waiting as WAL does in production.
    if default_engine.endswith("sqlite3"):
        settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = str(_sqlite_test_file("default"))
    if not default_engine.endswith("sqlite3"):
        from devops_insights.config import sqlite_options

        contract_db = str(_sqlite_test_file("contract"))
        settings.DATABASES["contract_sqlite"] = {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": contract_db,
            "OPTIONS": sqlite_options(),
            # No dependency on "default": a test may ask for this alias alone.
            "TEST": {"NAME": contract_db, "DEPENDENCIES": []},
        }
    if not default_engine.endswith("postgresql"):
        from devops_insights.config import prepare_threshold

        pg = Env.db_url_config(services.test_database_url())
        # As DATABASE_URL configures PostgreSQL (devops_insights/config.py), so both defaults test the same.
        pg["OPTIONS"] = {"prepare_threshold": prepare_threshold()}
        pg["TEST"] = {"NAME": services.contract_database_name(pg["NAME"]), "DEPENDENCIES": []}
        settings.DATABASES["contract_postgres"] = pg
    from django.db import connections

    # If something already read the database settings, make the handler fill in the new aliases' defaults.
    connections.__dict__.pop("settings", None)


_SQLITE_DIR: list[Path] = []


def _sqlite_test_file(name: str) -> Path:
    """A file for one SQLite test database, in a directory of this run's own."""
    if not _SQLITE_DIR:
        import tempfile

        _SQLITE_DIR.append(Path(tempfile.mkdtemp(prefix="di-test-")))
    return _SQLITE_DIR[0] / f"{name}.sqlite3"


def sql_alias(kind: str) -> str:
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    if (kind == "sqlite" and engine.endswith("sqlite3")) or (kind == "postgres" and engine.endswith("postgresql")):
        return "default"
    return f"contract_{kind}"


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = services.test_redis_url()
    problem = services.redis_available(url)
    if problem:
        services.unavailable(problem)
    return url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[Any]:
    """A real Redis on the test database, emptied before and after the test."""
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def redis_settings(redis_url: str, redis_client: Any, settings: Any) -> Any:
    """Settings switched to the Redis cache and channel layer, as with REDIS_URL set."""
    settings.REDIS_URL = redis_url
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": "test",
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient", "IGNORE_EXCEPTIONS": True},
        }
    }
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [redis_url]}}
    }
    settings.SHARED_CACHE_ALIAS = settings.WAFFLE_CACHE_NAME = "default"  # as settings.py chooses with REDIS_URL
    # Django's and Channels' setting_changed receivers rebuild the cache and layer handlers.
    return settings


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = services.test_database_url()
    problem = services.postgres_available(url)
    if problem:
        services.unavailable(problem)
    return url


@pytest.fixture
def collector_off() -> Iterator[None]:
    """The cyclic collector off for the test, as good as off between a long-running process's rare passes
    (devops_insights/collector.py): what a test's code leaves in a reference cycle stays."""
    collecting = gc.isenabled()
    gc.disable()
    yield
    if collecting:
        gc.enable()


@pytest.fixture(scope="session")
def mongodb_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """MONGODB_TEST_URL when set (a real mongod), else nx-27017 started on a free port."""
    import os

    url = os.environ.get("MONGODB_TEST_URL")
    if url:
        yield url
        return
    yield from services.start_nx27017(Path(tmp_path_factory.mktemp("mongo")))


@pytest.fixture(scope="session")
def real_mongodb() -> bool:
    """True when the tests run against real MongoDB rather than the nx-27017 stand-in."""
    import os

    return bool(os.environ.get("MONGODB_TEST_URL"))


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Every test starts and ends with an empty default cache.

    The metric store's read cache, rate-limit counters and login throttles live there and outlive the
    database rollback between tests; any test that reads the store through the API, the dashboards, the
    WebSocket or the alerts would otherwise see the previous test's values.
    """
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _fresh_shared_cache(request: pytest.FixtureRequest) -> None:
    """Every test that reaches the database starts with an empty shared cache (devops_insights.shared_cache).

    Without Redis it is a database table but no model: the flush after a transactional test leaves its rows
    (retention markers, generations, waffle's flags) for every test after it, where the default cache is emptied.
    """

    from devops_insights.shared_cache import shared_cache

    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        return
    databases = marker.kwargs.get("databases")
    if databases is not None and databases != "__all__" and "default" not in databases:
        return  # the table is on the default database, which this test may not reach
    transactional = marker.kwargs.get("transaction") or (marker.args and marker.args[0])
    request.getfixturevalue("transactional_db" if transactional else "db")
    shared_cache().clear()


@pytest.fixture(autouse=True)
def _fresh_store() -> Iterator[None]:
    """Every test gets its own process-wide metric store. The SQL store keeps what it last stored of each
    source (an unchanged poll compares with it, no read) and outlives the database rollback between tests,
    so the previous test's rows would otherwise be believed stored."""
    from metrics.stores import get_store

    get_store.cache_clear()
    yield
    get_store.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_recent_polls() -> Iterator[None]:
    """This process's count of its recent polls (alerts.recent_polls) is module state: one test's polls are
    not the next one's, and a test starts as a poller does, unable to vouch for its first two minutes."""
    from alerts import recent_polls

    recent_polls.forget()
    yield
    recent_polls.forget()


@pytest.fixture(autouse=True)
def _fresh_rule_snapshot() -> Iterator[None]:
    """This process's alert rules snapshot (alerts.rule_cache) is module state trusted for
    ALERT_RULES_RECHECK_SECONDS without a look at the shared generation: a test's rules, rolled back without
    a signal, would otherwise still be evaluated in the next test."""
    from alerts import rule_cache

    rule_cache.forget()
    yield
    rule_cache.forget()


@pytest.fixture(autouse=True)
def _fresh_pending_markers() -> Iterator[None]:
    """Deploy markers held for a poller's batch flush (boards.receivers.PENDING) are module state: one test's,
    never flushed, would otherwise be written at the next test's flush, for a source rolled back meanwhile."""
    from boards.receivers import PENDING

    PENDING.take()
    yield
    PENDING.take()


@pytest.fixture
def allow_loopback(settings: Any) -> Any:
    """Sources may point at loopback (the simulator, the discard port), as `make run` allows."""
    settings.POLLER_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1"]
    return settings


@pytest.fixture
def lan_host(settings: Any) -> str:
    """An address on the network, not loopback, that sources may point at (as an allowlisted LAN exporter): what a
    plain http URL there sends, anyone on the path reads. Nothing answers there; no test fetches it."""
    address = "10.9.8.7"
    settings.POLLER_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1", address]
    return address


@pytest.fixture
def other_simulator() -> Iterator[Any]:
    """A second simulator on another loopback port: another origin than ``simulator``'s, for secrets that must
    not follow a URL there (its ``/echo/headers`` shows what reached it)."""
    from tests.simulator import RunningSimulator

    running = RunningSimulator("127.0.0.1", 0).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def simulator() -> Iterator[Any]:
    """The upstream simulator serving on a free loopback port for the duration of one test, its clock in the
    middle of a window: no document changes by itself in the first half window of the test."""
    from tests.simulator import RunningSimulator, mid_window

    running = mid_window(RunningSimulator("127.0.0.1", 0)).start()
    try:
        yield running
    finally:
        running.stop()
