"""The one settings module. Every value comes from the environment (see .env.example).

With no variable set the whole product runs embedded: SQLite under var/, local-memory cache,
in-memory channel layer, SQL metric store. Real components switch on by URL.
A malformed variable raises ConfigError; manage.py and asgi.py turn it into one line and exit 2.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from devops_insights import config
from devops_insights.config import ConfigError

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(config.string("VAR_DIR", str(BASE_DIR / "var")))

# --- Core ------------------------------------------------------------------------------
DEBUG = config.boolean("DJANGO_DEBUG", True)
_DEV_SECRET_KEY = "dev-only-insecure-key-never-use-in-production-5b1e0c8d9a"  # noqa: S105 - refused when DEBUG is off
SECRET_KEY = config.string("DJANGO_SECRET_KEY", _DEV_SECRET_KEY)
ALLOWED_HOSTS = config.string_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = config.string_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

if not DEBUG:
    # Production must be configured on purpose: refuse to start on the development defaults.
    if SECRET_KEY == _DEV_SECRET_KEY:
        raise ConfigError("DJANGO_SECRET_KEY", "must be set when DJANGO_DEBUG=false")
    if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
        raise ConfigError("DJANGO_SECRET_KEY", "must be at least 50 characters of random text")
    if not ALLOWED_HOSTS:
        raise ConfigError("DJANGO_ALLOWED_HOSTS", "must list the served host names when DJANGO_DEBUG=false")

INSTALLED_APPS = [
    "daphne",  # first, so runserver is the ASGI one
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "devops_insights",
    "accounts",
    "metrics",
    "pollers",
    "realtime",
    "dashboard",
    "api",
    "alerts",
    "observability",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "devops_insights.urls"
WSGI_APPLICATION = "devops_insights.wsgi.application"
ASGI_APPLICATION = "devops_insights.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Relational database ---------------------------------------------------------------
DATABASES = {"default": config.database("DATABASE_URL", VAR_DIR / "devops_insights.sqlite3")}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL lets the poller write while web processes read; the timeout rides out short locks.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, channel layer, poller leases ----------------------------------------
REDIS_URL = config.url("REDIS_URL", ("redis", "rediss", "unix"))
CACHE_KEY_PREFIX = config.string("CACHE_KEY_PREFIX", "di")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": config.number("REDIS_CONNECT_TIMEOUT", 2.0, minimum=0.1),
                "SOCKET_TIMEOUT": config.number("REDIS_SOCKET_TIMEOUT", 2.0, minimum=0.1),
                # A Redis outage must degrade reads to the store, never raise to a page.
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
    DJANGO_REDIS_LOGGER = "metrics.cache"
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "devops-insights",
            "KEY_PREFIX": CACHE_KEY_PREFIX,
        }
    }

# --- Metric store ----------------------------------------------------------------------
MONGODB_URL = config.url("MONGODB_URL", ("mongodb", "mongodb+srv"))
MONGODB_DATABASE = config.string("MONGODB_DATABASE", "devops_insights")
MONGODB_MAX_POOL_SIZE = config.integer("MONGODB_MAX_POOL_SIZE", 50, minimum=1)
MONGODB_SERVER_SELECTION_TIMEOUT_MS = config.integer("MONGODB_SERVER_SELECTION_TIMEOUT_MS", 3000, minimum=100)
MONGODB_SOCKET_TIMEOUT_MS = config.integer("MONGODB_SOCKET_TIMEOUT_MS", 10000, minimum=100)
MONGODB_WRITE_CONCERN = config.string("MONGODB_WRITE_CONCERN", "majority")
# Create/adjust the MongoDB indexes once per process on first use (else only `manage.py ensure_indexes`).
MONGODB_ENSURE_INDEXES = config.boolean("MONGODB_ENSURE_INDEXES", True)
METRIC_STORE = "mongodb" if MONGODB_URL else "sql"
METRICS_MAX_PAYLOAD_BYTES = config.integer("METRICS_MAX_PAYLOAD_BYTES", 1024 * 1024, minimum=1024)
METRICS_CACHE_TTL = config.integer("METRICS_CACHE_TTL", 300, minimum=1)
METRICS_HISTORY_RETENTION_DAYS = config.integer("METRICS_HISTORY_RETENTION_DAYS", 7, minimum=1)
# Read cache in front of the store (metrics/read_cache.py): "auto" caches only in a cache shared by
# every process (Redis), since another process's writes cannot invalidate a local-memory cache.
METRICS_CACHE = config.choice("METRICS_CACHE", "auto", ("auto", "on", "off"))
METRICS_CACHE_LOCK_WAIT = config.number("METRICS_CACHE_LOCK_WAIT", 2.0, minimum=0.0)
METRICS_CACHE_RETRY_SECONDS = config.number("METRICS_CACHE_RETRY_SECONDS", 5.0, minimum=0.0)
if REDIS_URL:
    # Its own alias so that Redis errors reach the read cache, which logs once per outage and
    # falls back to the store (the default alias swallows and logs every error).
    CACHES["metrics"] = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": CACHE_KEY_PREFIX,
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": config.number("REDIS_CONNECT_TIMEOUT", 2.0, minimum=0.1),
            "SOCKET_TIMEOUT": config.number("REDIS_SOCKET_TIMEOUT", 2.0, minimum=0.1),
            "IGNORE_EXCEPTIONS": False,
        },
    }

# --- Pollers ---------------------------------------------------------------------------
POLLER_DEFAULT_INTERVAL = config.integer("POLLER_DEFAULT_INTERVAL", 30, minimum=5)
POLLER_CONCURRENCY = config.integer("POLLER_CONCURRENCY", 16, minimum=1, maximum=512)
POLLER_CONNECT_TIMEOUT = config.number("POLLER_CONNECT_TIMEOUT", 3.0, minimum=0.1)
POLLER_READ_TIMEOUT = config.number("POLLER_READ_TIMEOUT", 10.0, minimum=0.1)
POLLER_MAX_BODY_BYTES = config.integer("POLLER_MAX_BODY_BYTES", 1024 * 1024, minimum=1024)
POLLER_RETRIES = config.integer("POLLER_RETRIES", 2, minimum=0, maximum=10)
POLLER_BACKOFF_BASE = config.number("POLLER_BACKOFF_BASE", 0.5, minimum=0.0)
POLLER_BACKOFF_MAX = config.number("POLLER_BACKOFF_MAX", 10.0, minimum=0.0)
POLLER_MAX_REDIRECTS = config.integer("POLLER_MAX_REDIRECTS", 3, minimum=0, maximum=10)
POLLER_HOST_RATE_PER_SECOND = config.number("POLLER_HOST_RATE_PER_SECOND", 20.0, minimum=0.1)
POLLER_CIRCUIT_FAILURE_THRESHOLD = config.integer("POLLER_CIRCUIT_FAILURE_THRESHOLD", 5, minimum=1)
POLLER_CIRCUIT_COOLDOWN = config.number("POLLER_CIRCUIT_COOLDOWN", 60.0, minimum=1.0)
POLLER_ALLOWED_PRIVATE_HOSTS = config.string_list("POLLER_ALLOWED_PRIVATE_HOSTS", [])
POLLER_JITTER_FRACTION = config.number("POLLER_JITTER_FRACTION", 0.1, minimum=0.0)
POLLER_REDIS_TIMEOUT = config.number("POLLER_REDIS_TIMEOUT", 2.0, minimum=0.1)
POLLER_HEARTBEAT_SECONDS = config.number("POLLER_HEARTBEAT_SECONDS", 5.0, minimum=0.5)
POLLER_RELOAD_SECONDS = config.number("POLLER_RELOAD_SECONDS", 10.0, minimum=0.5)
POLLER_PROGRESS_SECONDS = config.number("POLLER_PROGRESS_SECONDS", 60.0, minimum=1.0)
SIMULATOR_PORT = config.integer("SIMULATOR_PORT", 8001, minimum=1, maximum=65535)

# --- Auth, sessions, security ----------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = config.boolean("DJANGO_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = config.boolean("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
# Probes from the orchestrator speak plain HTTP inside the cluster.
SECURE_REDIRECT_EXEMPT = [r"^api/v1/health$", r"^api/v1/ready$", r"^metrics$"]
SECURE_HSTS_SECONDS = config.integer("DJANGO_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = config.boolean("DJANGO_HSTS_PRELOAD", SECURE_HSTS_SECONDS > 0)
if config.boolean("DJANGO_BEHIND_TLS_PROXY", False):
    # Only behind a proxy that sets this header itself; otherwise a client could forge https.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Internationalization, static files ------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Logging ---------------------------------------------------------------------------
LOG_LEVEL = config.choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error")).upper()
LOG_FORMAT = config.choice("LOG_FORMAT", "text", ("text", "json"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "devops_insights.logging.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Third-party clients can log full URLs; keep them quiet so credentials never reach logs.
        "urllib3": {"level": "WARNING"},
        "pymongo": {"level": "WARNING"},
    },
}

# --- Real-time (realtime/) -------------------------------------------------------------
# Which channels-redis layer carries live updates between pollers and web processes; chosen by
# measurement (bench/ws_fanout.py, README "Real-time"). Without REDIS_URL: the in-memory layer.
# Pub/sub keeps nothing in Redis (no queue to expire, no memberships to outlive a crashed
# process), so capacity and expiries below apply to the "redis" (RedisChannelLayer) choice only.
REALTIME_CHANNEL_LAYER = config.choice("REALTIME_CHANNEL_LAYER", "pubsub", ("pubsub", "redis"))
# Messages queued per channel (a web process has one, its LocalHub's): beyond it a stuck process
# drops updates instead of growing Redis without bound.
CHANNEL_LAYER_CAPACITY = config.integer("CHANNEL_LAYER_CAPACITY", 1000, minimum=10)
# An update older than this is stale; clients recover it from the sequence gap.
CHANNEL_LAYER_EXPIRY = config.integer("CHANNEL_LAYER_EXPIRY", 10, minimum=1)
# Each process's LocalHub re-joins at half this, so it only bounds how long a crashed process's
# memberships linger in Redis.
CHANNEL_LAYER_GROUP_EXPIRY = config.integer("CHANNEL_LAYER_GROUP_EXPIRY", 3600, minimum=60)
if REDIS_URL and REALTIME_CHANNEL_LAYER == "pubsub":
    # Pub/sub channels are server-wide, not per database: put the database number in the prefix
    # so that deployments sharing a Redis server on different databases never hear each other.
    _redis_db = (urlsplit(REDIS_URL).path.strip("/") or "0") if not REDIS_URL.startswith("unix") else "0"
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": f"{CACHE_KEY_PREFIX}:{_redis_db}:asgi"},
        }
    }
elif REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_URL],
                "prefix": f"{CACHE_KEY_PREFIX}:asgi",
                "capacity": CHANNEL_LAYER_CAPACITY,
                "expiry": CHANNEL_LAYER_EXPIRY,
                "group_expiry": CHANNEL_LAYER_GROUP_EXPIRY,
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
REALTIME_MAX_MESSAGE_BYTES = config.integer("REALTIME_MAX_MESSAGE_BYTES", 64 * 1024, minimum=1024, maximum=1024 * 1024)
REALTIME_MAX_MESSAGES_PER_SECOND = config.integer("REALTIME_MAX_MESSAGES_PER_SECOND", 20, minimum=1, maximum=1000)
REALTIME_HISTORY_MAX_LIMIT = config.integer("REALTIME_HISTORY_MAX_LIMIT", 200, minimum=1, maximum=1000)
REALTIME_QUERY_TOKEN_AUTH = config.boolean("REALTIME_QUERY_TOKEN_AUTH", True)
REALTIME_REAUTH_INTERVAL = config.number("REALTIME_REAUTH_INTERVAL", 60.0, minimum=0.1)
REALTIME_RETRY_AFTER_MS = config.integer("REALTIME_RETRY_AFTER_MS", 2000, minimum=100)
REALTIME_PUBLISH_TIMEOUT = config.number("REALTIME_PUBLISH_TIMEOUT", 2.0, minimum=0.1)
# In-memory layer only (no REDIS_URL): seconds between store checks for other processes' changes; 0 = never.
REALTIME_STORE_WATCH_INTERVAL = config.number("REALTIME_STORE_WATCH_INTERVAL", 2.0, minimum=0.0)


# --- Dashboards (dashboard/) -----------------------------------------------------------


# --- API (api/) ------------------------------------------------------------------------


# --- Operations: retention, observability (metrics/, observability/) -------------------


# --- Alerting (alerts/) ----------------------------------------------------------------
