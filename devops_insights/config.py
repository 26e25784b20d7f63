"""Typed readers for the environment, with one clear error per bad variable.

Every setting of the project is read here through django-environ. A bad value raises
``ConfigError`` naming the variable and what is wrong; ``settings.py`` turns that into one
line on stderr and a non-zero exit instead of a traceback wall.
"""

from __future__ import annotations

import os
import re
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import environ

env = environ.Env()


class ConfigError(Exception):
    """A configuration variable is missing or malformed."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name
        self.problem = problem


def _raw(name: str) -> str | None:
    """The variable's value, or the content of the file named by ``<NAME>_FILE``.

    Docker and Kubernetes mount secrets as files; reading ``<NAME>_FILE`` keeps them out of
    the process environment. Setting both is ambiguous, so it is an error.
    """
    value = os.environ.get(name)
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        if value is not None:
            raise ConfigError(name, f"set either {name} or {name}_FILE, not both")
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{name}_FILE", f"cannot read {file_name!r} ({exc.strerror})") from None
    return value


def string(name: str, default: str) -> str:
    value = _raw(name)
    return default if value is None else value


def boolean(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(name, f"expected true or false, got {value!r}")


def integer(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    value = _raw(name)
    if value is None or value.strip() == "":
        result = default
    else:
        try:
            result = int(value.strip())
        except ValueError:
            raise ConfigError(name, f"expected a whole number, got {value!r}") from None
    if minimum is not None and result < minimum:
        raise ConfigError(name, f"must be at least {minimum}, got {result}")
    if maximum is not None and result > maximum:
        raise ConfigError(name, f"must be at most {maximum}, got {result}")
    return result


def number(name: str, default: float, *, minimum: float | None = None) -> float:
    value = _raw(name)
    if value is None or value.strip() == "":
        result = default
    else:
        try:
            result = float(value.strip())
        except ValueError:
            raise ConfigError(name, f"expected a number, got {value!r}") from None
    if result != result or result in (float("inf"), float("-inf")):
        raise ConfigError(name, f"expected a finite number, got {value!r}")
    if minimum is not None and result < minimum:
        raise ConfigError(name, f"must be at least {minimum}, got {result}")
    return result


def string_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = string(name, default).strip().lower()
    if value not in allowed:
        raise ConfigError(name, f"expected one of {', '.join(allowed)}, got {value!r}")
    return value


def url(name: str, schemes: tuple[str, ...]) -> str | None:
    """A URL with one of ``schemes``, or None when unset. The error never echoes a password."""
    value = _raw(name)
    if value is None or value.strip() == "":
        return None
    value = value.strip()
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a non-numeric port
    except ValueError:
        raise ConfigError(name, "is not a valid URL") from None
    if not parts.scheme:
        raise ConfigError(name, f"is not a URL (expected {' or '.join(s + '://' for s in schemes)}...)")
    if parts.scheme not in schemes:
        raise ConfigError(name, f"unknown scheme {parts.scheme!r}, expected one of {', '.join(schemes)}")
    if not parts.hostname and parts.scheme not in ("sqlite",):
        raise ConfigError(name, "has no host")
    return value


DATABASE_SCHEMES = ("postgres", "postgresql", "pgsql", "sqlite")


def database(name: str, default_sqlite_path: Path) -> dict[str, Any]:
    value = url(name, DATABASE_SCHEMES)
    pool = database_pool()  # read (and checked) whichever the database, so a typo never waits for a move
    prepare_after = prepare_threshold()  # the same
    if value is None:
        # The embedded default: make its folder so a fresh clone needs no setup step.
        default_sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        return _persistent({"ENGINE": "django.db.backends.sqlite3", "NAME": str(default_sqlite_path)})
    try:
        config: dict[str, Any] = env.db_url_config(value)
    except Exception:  # django-environ raises several types; the message must not echo the URL
        raise ConfigError(name, "could not be parsed as a database URL") from None
    if config["ENGINE"].endswith("sqlite3"):
        return _persistent(config)
    if config["ENGINE"].endswith("postgresql"):
        if not config.get("NAME"):
            raise ConfigError(name, "names no database (postgres://user@host:5432/<database>)")
        config.setdefault("OPTIONS", {})["prepare_threshold"] = prepare_after
        if pool is not None:
            # A bounded pool per process: every thread borrows a connection for a request or a poll and
            # gives it back, so one process never holds more than ``max_size``. Django requires
            # CONN_MAX_AGE 0 with a pool (closing a connection returns it to the pool).
            config["CONN_MAX_AGE"] = 0
            config.setdefault("OPTIONS", {})["pool"] = pool
            # With a pool Django turns this into psycopg's check: a lent connection is tested first, so a
            # restarted server is survived.
            config["CONN_HEALTH_CHECKS"] = True
        else:
            _persistent(config)
    return config


def sqlite_options() -> dict[str, Any]:
    """The options of every SQLite database the product opens (the embedded default, and the benches' and
    tests' copies of it): WAL lets the poller write while web processes read, the timeout rides out short
    locks, and IMMEDIATE takes the write lock at BEGIN rather than failing a write mid-transaction."""
    return {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }


def _persistent(config: dict[str, Any]) -> dict[str, Any]:
    """Reuse connections across requests and polls; health-checked so a restarted server is survived.

    SQLite too: closing a thread's connection after every poll (``close_old_connections``) made each poll
    reopen the file, and closing the last connection of a WAL database checkpoints it: about 1 ms a poll.
    """
    config["CONN_MAX_AGE"] = integer("DATABASE_CONN_MAX_AGE", 60, minimum=0)
    config["CONN_HEALTH_CHECKS"] = True
    return config


# psycopg's own default: a statement text is prepared on the server at its fifth run on a connection.
PREPARE_AFTER_RUNS = 5


def prepare_threshold() -> int | None:
    """psycopg's ``prepare_threshold`` from DATABASE_PREPARED_STATEMENTS (None: never prepare).

    Only the statements sent with server-side binding are ever prepared: the store's and the poller's
    fixed hot texts (``metrics/stores/statement_shapes.py``), a handful per connection. Django's own
    queries go through its client-side binding cursor, which psycopg never prepares. Why prepare them:
    the server then parses and plans a change's statement once per connection instead of at every
    change (about 0.2 ms of its 1 ms on a loopback connection). Why it can be turned off: a pooler in
    transaction mode (PgBouncer before 1.21, or without ``max_prepared_statements``) hands a session's
    next transaction to another server connection, which does not hold the statement.
    """
    return PREPARE_AFTER_RUNS if boolean("DATABASE_PREPARED_STATEMENTS", True) else None


def database_pool() -> dict[str, Any] | None:
    """psycopg's pool options from DATABASE_POOL_*; None when DATABASE_POOL_MAX_SIZE is 0 (no pool)."""
    max_size = integer("DATABASE_POOL_MAX_SIZE", 10, minimum=0, maximum=1000)
    if max_size == 0:
        return None
    min_size = integer("DATABASE_POOL_MIN_SIZE", 2, minimum=0, maximum=1000)
    if min_size > max_size:
        raise ConfigError(
            "DATABASE_POOL_MIN_SIZE", f"must be at most DATABASE_POOL_MAX_SIZE ({max_size}), got {min_size}"
        )
    timeout = number("DATABASE_POOL_TIMEOUT", 10.0, minimum=0.1)
    return {"min_size": min_size, "max_size": max_size, "timeout": timeout}


def networks(name: str, default: list[str]) -> list[IPv4Network | IPv6Network]:
    """A comma-separated list of IP networks in CIDR form (a bare address is a /32 or /128)."""
    result: list[IPv4Network | IPv6Network] = []
    for item in string_list(name, default):
        try:
            result.append(ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(name, f"{item!r} is not an IP address or CIDR network") from None
    return result


_RATE = re.compile(r"^\d+/\d*[smhd]$")
_ORIGIN = re.compile(r"^https?://[^/?#\s]+$")


def rate(name: str, default: str) -> str:
    """A django-ratelimit rate such as ``600/m`` or ``5/15m``."""
    value = string(name, default).strip()
    if not _RATE.match(value):
        raise ConfigError(name, f"expected a rate like 600/m or 5/15m, got {value!r}")
    return value


def origins(name: str, default: list[str]) -> list[str]:
    """A comma-separated list of web origins (scheme and host, no path), as CORS compares them."""
    result = string_list(name, default)
    for origin in result:
        if not _ORIGIN.match(origin):
            raise ConfigError(name, f"{origin!r} is not an origin like https://ops.example.com")
    return result


_HOST_PORT = re.compile(r"^(?:\[[^\]]+\]|[^:\[\]]+):(\d+)$")


def check_allowlist(name: str, entries: list[str]) -> None:
    """Allowlist entries are host names, IPs, CIDRs, or host:port / [v6]:port: a port must be 1 to 65535."""
    for entry in entries:
        match = _HOST_PORT.match(entry.strip())
        if match is not None and not 0 < int(match.group(1)) < 65536:
            raise ConfigError(name, f"{entry!r}: the port must be from 1 to 65535")


def email(name: str) -> dict[str, Any] | None:
    """Django's e-mail settings from one URL (django-environ's schemes: smtp, smtp+tls, smtp+ssl, consolemail,
    filemail, memorymail, dummymail), or None when unset. The error never echoes the URL."""
    value = _raw(name)
    if value is None or value.strip() == "":
        return None
    try:
        result: dict[str, Any] = env.email_url_config(value.strip())
    except Exception:  # django-environ raises several types; the message must not echo a password
        raise ConfigError(name, "could not be parsed as an e-mail URL (smtp+tls://user:password@host:587)") from None
    if not result.get("EMAIL_BACKEND"):
        raise ConfigError(name, "names no known e-mail scheme (smtp, smtp+tls, smtp+ssl, consolemail, memorymail)")
    return result


def url_list(name: str, schemes: tuple[str, ...]) -> list[str]:
    """A comma-separated list of URLs (``host:port`` alone means ``http://host:port``); never echoes a password."""
    result: list[str] = []
    for position, item in enumerate(string_list(name, []), start=1):
        text = item if "://" in item else f"http://{item}"
        try:
            parts = urlsplit(text)
            parts.port  # noqa: B018 - raises ValueError on a non-numeric port
        except ValueError:
            raise ConfigError(name, f"entry {position} is not a valid URL") from None
        if parts.scheme not in schemes:
            raise ConfigError(
                name, f"entry {position} has scheme {parts.scheme!r}, expected one of {', '.join(schemes)}"
            )
        if not parts.hostname:
            raise ConfigError(name, f"entry {position} has no host")
        result.append(text)
    return result


def pem_file(name: str) -> str:
    """The path of a readable PEM file holding at least one certificate, or "" when unset."""
    value = string(name, "").strip()
    if not value:
        return ""
    try:
        text = Path(value).read_text(encoding="ascii", errors="replace")
    except OSError as exc:
        raise ConfigError(name, f"cannot read {value!r} ({exc.strerror})") from None
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise ConfigError(name, f"{value!r} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    return value


def fernet_keys(name: str) -> list[str]:
    """Fernet keys, separated by commas or whitespace: the first encrypts, all of them decrypt.

    Each is 32 bytes in url-safe base64 (44 characters), as ``Fernet.generate_key()`` makes. The
    error names the key's position, never the key.
    """
    import base64
    import binascii

    value = _raw(name)
    keys = (value or "").replace(",", " ").split()
    for position, key in enumerate(keys, start=1):
        try:
            raw = base64.urlsafe_b64decode(key.encode("ascii"))
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raw = b""
        if len(raw) != 32:
            raise ConfigError(
                name,
                f"key {position} of {len(keys)} is not a Fernet key (32 bytes in url-safe base64, 44 characters: "
                "see docs/configuration.md for how to make one)",
            )
    if len(set(keys)) != len(keys):
        raise ConfigError(name, "lists the same key twice")
    return keys
