"""The one settings module. Every value comes from the environment (docs/configuration.md, .env.example).

With no variable set the whole product runs embedded: SQLite under var/, local-memory cache (and a
database cache shared by its processes),
in-memory channel layer, SQL metric store. Real components switch on by URL.
A malformed variable raises ConfigError; manage.py and asgi.py turn it into one line and exit 2.

Read top to bottom: paths, core, the application (apps, middleware, templates), then one block
per concern in the order a request meets them. Each list is written once, here; nothing below
edits it. Every variable is read through a devops_insights.config reader, so
tests/devops_insights/test_settings_documented.py can find each one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from csp.constants import NONE, SELF

from devops_insights import config
from devops_insights.config import ConfigError

# --- Paths -----------------------------------------------------------------------------
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

# --- Applications and middleware -------------------------------------------------------
INSTALLED_APPS = [
    # ASGI server: first, so that runserver is the ASGI one.
    "daphne",
    # Django
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # WebSockets
    "channels",
    # This project (the README's layout says what each one does)
    "devops_insights",
    "accounts",
    "metrics",
    "pollers",
    "realtime",
    "dashboard",
    "api",
    "alerts",
    "objectives",
    "boards",
    "statuspages",
    "provisioning",
    "observability",
    # Accounts: login, password reset, e-mail, MFA (TOTP, recovery codes, WebAuthn) and SSO (django-allauth)
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.socialaccount.providers.github",
    "allauth.socialaccount.providers.gitlab",
    "allauth.socialaccount.providers.google",
    # HTTP headers: Content-Security-Policy (dashboards), CORS (API)
    "csp",
    "corsheaders",
    # Request, database and cache figures (django_*) on /metrics beside our own (devops_insights_*).
    "django_prometheus",
    # Feature flags (provisioning/flags.py, docs/feature-flags.md); the flag model is provisioning's.
    "waffle",
]

MIDDLEWARE = [
    # django-prometheus times the whole stack: its Before first and its After last.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # Observability: first of ours, so the request id and the request span cover every other
    # middleware (redirects included).
    "observability.middleware.RequestObservabilityMiddleware",
    # Security headers, then the Content-Security-Policy (configured under Dashboards below).
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    # Static files, answered before any session work.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # A request for a status page's own host name is answered from that page's URLs (statuspages/hosts.py).
    "statuspages.hosts.CustomHostMiddleware",
    # API edge: CORS answers preflights, so it sits above anything that could answer first; the API
    # error middleware wraps the rest so every response under /api/ has the one error shape.
    "corsheaders.middleware.CorsMiddleware",
    "api.middleware.ApiErrorMiddleware",
    # Django: sessions, CSRF, authentication, messages, framing
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Accounts: allauth's login stages, then staff without a second factor are sent to enrol (accounts/mfa_required.py).
    "allauth.account.middleware.AccountMiddleware",
    "accounts.mfa_required.RequireStaffMfaMiddleware",
    # The audit trail's actor (user, token, IP, user agent) for every change made during the request.
    "accounts.audit_context.AuditContextMiddleware",
    # Feature flags: keeps a percentage flag's coin toss in a cookie, so a person's answer stays the same.
    "waffle.middleware.WaffleMiddleware",
    # A view that waited past DATABASE_POOL_TIMEOUT for a connection answers 503 with Retry-After, not 500.
    "devops_insights.busy.BusyDatabaseMiddleware",
    # Innermost of ours: a safe request whose database connection was dropped under it runs its view once more.
    "devops_insights.db_retry.RetryDroppedConnectionMiddleware",
    # django-prometheus: its After last, to time everything above.
    "django_prometheus.middleware.PrometheusAfterMiddleware",
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
                "accounts.current_team.navigation",
                "dashboard.context.operator",
            ],
        },
    },
]

# --- Relational database ---------------------------------------------------------------
DATABASES = {"default": config.database("DATABASE_URL", VAR_DIR / "devops_insights.sqlite3")}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["OPTIONS"] = config.sqlite_options()
# django-prometheus's wrappers of the same backends count queries, errors and connections.
DATABASES["default"]["ENGINE"] = DATABASES["default"]["ENGINE"].replace(
    "django.db.backends.", "django_prometheus.db.backends."
)
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # django-prometheus's PostgreSQL backend with a cheaper pooled checkout (devops_insights/postgresql/base.py).
    DATABASES["default"]["ENGINE"] = "devops_insights.postgresql"
elif DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # django-prometheus's SQLite backend with its cursor class made once (devops_insights/sqlite3/base.py).
    DATABASES["default"]["ENGINE"] = "devops_insights.sqlite3"
# Seconds since a pooled connection was last lent after which it is checked (a round trip) before the next loan.
DATABASE_POOL_CHECK_AFTER = config.number("DATABASE_POOL_CHECK_AFTER", 0.0, minimum=0.0)
# The admission queue (devops_insights/admission.py): requests run in Django at once (0: the pool's size, else 32)
# and seconds one waits for a slot before it is answered 503.
WEB_MAX_CONCURRENT_REQUESTS = config.integer("WEB_MAX_CONCURRENT_REQUESTS", 0, minimum=0, maximum=10_000)
WEB_QUEUE_TIMEOUT = config.number("WEB_QUEUE_TIMEOUT", 30.0, minimum=0.1)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis and caches: default cache, metric read cache --------------------------------
REDIS_URL = config.url("REDIS_URL", ("redis", "rediss", "unix"))
CACHE_KEY_PREFIX = config.string("CACHE_KEY_PREFIX", "di")


def _redis_cache(*, ignore_exceptions: bool) -> dict[str, Any]:
    return {
        # django-redis with django-prometheus's hit/miss counters.
        "BACKEND": "django_prometheus.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": CACHE_KEY_PREFIX,
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": config.number("REDIS_CONNECT_TIMEOUT", 2.0, minimum=0.1),
            "SOCKET_TIMEOUT": config.number("REDIS_SOCKET_TIMEOUT", 2.0, minimum=0.1),
            "IGNORE_EXCEPTIONS": ignore_exceptions,
        },
    }


CACHES: dict[str, dict[str, Any]]
if REDIS_URL:
    CACHES = {
        # A Redis outage must degrade reads to the store, never raise to a page.
        "default": _redis_cache(ignore_exceptions=True),
        # The metric read cache's own alias, so that Redis errors reach it: it logs once per outage
        # and falls back to the store (the default alias swallows and logs every error).
        "metrics": _redis_cache(ignore_exceptions=False),
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
    DJANGO_REDIS_LOGGER = "metrics.cache"
else:
    CACHES = {
        "default": {
            "BACKEND": "django_prometheus.cache.backends.locmem.LocMemCache",
            "LOCATION": "devops-insights",
            "KEY_PREFIX": CACHE_KEY_PREFIX,
        },
        # What one process tells another (rule and silence generations, the retention lock and its
        # markers) must reach daphne, the poller and `manage.py prune` alike, which local memory cannot:
        # a table on the default database (devops_insights.shared_cache; created by `migrate`).
        "shared": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "devops_insights_shared_cache",
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            # Past MAX_ENTRIES (300 by default) Django culls a third of the live rows by key order, the
            # retention markers (`ops:` keys sort first) among them; the table holds a few rows a flag and a dozen
            # besides, so the bound only ever needs to stop a runaway.
            "OPTIONS": {"MAX_ENTRIES": 1_000_000},
        },
    }

# The cache alias every process of this deployment shares (devops_insights.shared_cache): Redis's default
# with REDIS_URL, else the database table above.
SHARED_CACHE_ALIAS = "default" if REDIS_URL else "shared"
# Feature flags are read by daphne and written by `manage.py provision` and the admin: waffle caches them
# (and provisioning.models.Flag its teams) where every process sees the flush a save makes.
WAFFLE_CACHE_NAME = SHARED_CACHE_ALIAS

# --- Metric store (metrics/) -----------------------------------------------------------
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
# PostgreSQL: whether a poll's own writes (a change, its deploy marker) wait for the WAL flush at commit.
# Off: a server crash may lose the last ~600 ms of polls, never corrupt them (metrics/stores/durability.py).
METRICS_SYNCHRONOUS_COMMIT = config.boolean("METRICS_SYNCHRONOUS_COMMIT", False)
# PostgreSQL: the documents a process keeps of what it stored last per source, to diff and write a change
# in one round trip (metrics/stores/diff_bases.py); 0 turns it off (every change reads its row first).
METRICS_DIFF_BASE_CACHE_BYTES = config.integer("METRICS_DIFF_BASE_CACHE_BYTES", 32 * 1024 * 1024, minimum=0)
# Every JSON reader (upstream documents, API bodies, WebSocket messages, import files) measures
# nesting and item count before parsing (metrics/jsonlimits.py, docs/security.md); each keeps its own size setting.
JSON_MAX_DEPTH = config.integer("JSON_MAX_DEPTH", 64, minimum=4, maximum=256)
JSON_MAX_ITEMS = config.integer("JSON_MAX_ITEMS", 100_000, minimum=100)
METRICS_CACHE_TTL = config.integer("METRICS_CACHE_TTL", 300, minimum=1)
METRICS_HISTORY_RETENTION_DAYS = config.integer("METRICS_HISTORY_RETENTION_DAYS", 7, minimum=1)
# Read cache in front of the store (metrics/read_cache.py): "auto" caches only in a cache shared by
# every process (Redis), since another process's writes cannot invalidate a local-memory cache.
METRICS_CACHE = config.choice("METRICS_CACHE", "auto", ("auto", "on", "off"))
METRICS_CACHE_LOCK_WAIT = config.number("METRICS_CACHE_LOCK_WAIT", 2.0, minimum=0.0)
METRICS_CACHE_RETRY_SECONDS = config.number("METRICS_CACHE_RETRY_SECONDS", 5.0, minimum=0.0)

# --- Metric data lifecycle: retention, archive (metrics/) ------------------------------
# Raw snapshots pruned with archival are written here first (gzip NDJSON per source per day).
ARCHIVE_DIR = Path(config.string("ARCHIVE_DIR", str(VAR_DIR / "archive")))
# The poller loop's retention step: rollups often, the full prune hourly.
RETENTION_IN_POLLER = config.boolean("RETENTION_IN_POLLER", True)
RETENTION_ROLLUP_INTERVAL = config.integer("RETENTION_ROLLUP_INTERVAL", 60, minimum=10)
RETENTION_PRUNE_INTERVAL = config.integer("RETENTION_PRUNE_INTERVAL", 3600, minimum=60)
RETENTION_LOCK_SECONDS = config.integer("RETENTION_LOCK_SECONDS", 3600, minimum=60)

# --- Pollers (pollers/) ----------------------------------------------------------------
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
# The longest Retry-After honoured: an hour covers the rate-limit windows upstreams announce, and one answer
# asking for a day (or for the year 9999) no longer stops a source's polling until a restart.
POLLER_RETRY_AFTER_MAX = config.number("POLLER_RETRY_AFTER_MAX", 3600.0, minimum=1.0)
POLLER_ALLOWED_PRIVATE_HOSTS = config.string_list("POLLER_ALLOWED_PRIVATE_HOSTS", [])
# Entries are host names, IPs, CIDRs or host:port (pollers/ssrf.py); a bad port stops the start.
config.check_allowlist("POLLER_ALLOWED_PRIVATE_HOSTS", POLLER_ALLOWED_PRIVATE_HOSTS)
POLLER_JITTER_FRACTION = config.number("POLLER_JITTER_FRACTION", 0.1, minimum=0.0)
# With tracing on, each poll request carries a W3C traceparent, so a traced upstream joins the trace.
POLLER_PROPAGATE_TRACE = config.boolean("POLLER_PROPAGATE_TRACE", True)
POLLER_REDIS_TIMEOUT = config.number("POLLER_REDIS_TIMEOUT", 2.0, minimum=0.1)
POLLER_HEARTBEAT_SECONDS = config.number("POLLER_HEARTBEAT_SECONDS", 5.0, minimum=0.5)
POLLER_RELOAD_SECONDS = config.number("POLLER_RELOAD_SECONDS", 10.0, minimum=0.5)
POLLER_PROGRESS_SECONDS = config.number("POLLER_PROGRESS_SECONDS", 60.0, minimum=1.0)
POLLER_FAILURE_HISTORY = config.integer("POLLER_FAILURE_HISTORY", 20, minimum=1, maximum=1000)
SIMULATOR_PORT = config.integer("SIMULATOR_PORT", 8001, minimum=1, maximum=65535)

# Real-world upstreams (docs/polling.md): encodings, structure limits, proxies, TLS, credentials, lease fallback.
# Deeper JSON is refused as too_deep before parsing. At most 90: MongoDB nests documents at most 100
# deep and the store wraps the payload, and every recursive walker (diff, hashing) stays far from
# Python's recursion limit.
POLLER_MAX_JSON_DEPTH = config.integer("POLLER_MAX_JSON_DEPTH", 64, minimum=1, maximum=90)
# Every poll goes through this proxy unless a source says "direct" or names its own.
POLLER_PROXY = config.url("POLLER_PROXY", ("http", "https")) or ""
# The proxies a source may name (besides POLLER_PROXY): a proxy is usually a private address the SSRF
# guard would refuse, so each one is allowed here by the operator, explicitly.
POLLER_ALLOWED_PROXIES = config.url_list("POLLER_ALLOWED_PROXIES", ("http", "https"))
# HTTP(S)_PROXY, ALL_PROXY and NO_PROXY from the environment apply only when this is true.
POLLER_TRUST_ENV_PROXY = config.boolean("POLLER_TRUST_ENV_PROXY", False)
# PEM file of the CAs trusted for https sources instead of the system's; a path that is not a readable PEM
# file holding a certificate fails at start, not at the first poll.
POLLER_CA_BUNDLE = config.pem_file("POLLER_CA_BUNDLE")
# Fernet keys for credentials stored in the database (source passwords, tokens, client keys): the
# first encrypts, every one decrypts; rotate by putting a new key first (manage.py reencrypt_secrets).
FIELD_ENCRYPTION_KEYS = config.fernet_keys("FIELD_ENCRYPTION_KEY")
# With REDIS_URL, leases fall back to the database while Redis is unreachable (pollers/leases.py);
# during an outage Redis is tried again at most this often.
POLLER_LEASE_FALLBACK = config.boolean("POLLER_LEASE_FALLBACK", True)
POLLER_REDIS_RETRY_SECONDS = config.number("POLLER_REDIS_RETRY_SECONDS", 5.0, minimum=0.1)

# --- Real-time (realtime/) -------------------------------------------------------------
# Which channels-redis layer carries live updates between pollers and web processes; chosen by
# measurement (bench/ws_fanout.py, docs/realtime.md). Without REDIS_URL: the in-memory layer.
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
# Open WebSocket connections per user and per API token (0: no cap); extras are closed with 4409.
# Counted in Redis across processes when REDIS_URL is set; each slot expires unless its connection
# renews it every third of REALTIME_CONNECTION_SLOT_TTL, so a crashed process frees its slots.
REALTIME_MAX_CONNECTIONS_PER_USER = config.integer("REALTIME_MAX_CONNECTIONS_PER_USER", 30, minimum=0)
REALTIME_MAX_CONNECTIONS_PER_TOKEN = config.integer("REALTIME_MAX_CONNECTIONS_PER_TOKEN", 10, minimum=0)
REALTIME_CONNECTION_SLOT_TTL = config.number("REALTIME_CONNECTION_SLOT_TTL", 60.0, minimum=3.0)
REALTIME_REAUTH_INTERVAL = config.number("REALTIME_REAUTH_INTERVAL", 60.0, minimum=0.1)
REALTIME_RETRY_AFTER_MS = config.integer("REALTIME_RETRY_AFTER_MS", 2000, minimum=100)
REALTIME_PUBLISH_TIMEOUT = config.number("REALTIME_PUBLISH_TIMEOUT", 2.0, minimum=0.1)
# In-memory layer only (no REDIS_URL): seconds between store checks for other processes' changes; 0 = never.
REALTIME_STORE_WATCH_INTERVAL = config.number("REALTIME_STORE_WATCH_INTERVAL", 2.0, minimum=0.0)

# --- Auth, sessions, HTTPS -------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "account_login"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

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

# --- Accounts (accounts/, django-allauth): login, MFA, SSO, lockout --------------------
# docs/accounts.md explains each choice. Sign-up is closed: accounts are made by an admin or by SSO.
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_FORMS = {"login": "accounts.forms.LoginForm"}
SOCIALACCOUNT_ADAPTER = "accounts.adapter.SocialAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = config.choice("ACCOUNT_EMAIL_VERIFICATION", "none", ("none", "optional", "mandatory"))
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http" if DEBUG else "https"
ACCOUNT_SESSION_REMEMBER = None
# Lockout: allauth's rate limits are the one mechanism (accounts/adapter.py keys them). A failed
# password counts against the user name + client pair (a known device stands in for the client
# address) and against the client address, counted under a lock before the password is checked.
LOGIN_RATE_LIMIT_IP = config.rate("LOGIN_RATE_LIMIT_IP", "20/m")  # failed logins per client IP
LOGIN_RATE_LIMIT_USERNAME = config.rate("LOGIN_RATE_LIMIT_USERNAME", "5/5m")  # failed logins per user name + client
ACCOUNT_RATE_LIMITS = {"login": "60/m/ip"}  # login_failed is keyed per request by accounts.adapter
ACCOUNT_KNOWN_DEVICE_DAYS = config.integer("ACCOUNT_KNOWN_DEVICE_DAYS", 90, minimum=0, maximum=3650)
# Audit events (logins, changes) older than this are deleted by the retention run (manage.py prune, the poller).
AUDIT_RETENTION_DAYS = config.integer("AUDIT_RETENTION_DAYS", 365, minimum=1, maximum=36500)
# Second factor: TOTP (with recovery codes) and WebAuthn passkeys.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_PASSKEY_LOGIN_ENABLED = True
MFA_TOTP_ISSUER = config.string("MFA_TOTP_ISSUER", "DevOps Insights")
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG
REQUIRE_MFA_FOR_STAFF = config.boolean("REQUIRE_MFA_FOR_STAFF", not DEBUG)
# Single sign-on: a provider exists only when its client id is set; secrets also from <NAME>_FILE.
SOCIALACCOUNT_PROVIDERS: dict[str, dict[str, Any]] = {}
_oidc_id = config.string("SSO_OIDC_CLIENT_ID", "")
if _oidc_id:
    _oidc_url = config.url("SSO_OIDC_SERVER_URL", ("http", "https"))
    if not _oidc_url:
        raise ConfigError("SSO_OIDC_SERVER_URL", "must be set when SSO_OIDC_CLIENT_ID is (the issuer URL)")
    SOCIALACCOUNT_PROVIDERS["openid_connect"] = {
        "OAUTH_PKCE_ENABLED": True,
        "APPS": [
            {
                "provider_id": "oidc",
                "name": config.string("SSO_OIDC_NAME", "Single sign-on"),
                "client_id": _oidc_id,
                "secret": config.string("SSO_OIDC_CLIENT_SECRET", ""),
                "settings": {"server_url": _oidc_url, "fetch_userinfo": True},
            }
        ],
    }
_github_id = config.string("SSO_GITHUB_CLIENT_ID", "")
if _github_id:
    SOCIALACCOUNT_PROVIDERS["github"] = {
        "SCOPE": ["read:user", "user:email"],
        "APPS": [{"client_id": _github_id, "secret": config.string("SSO_GITHUB_CLIENT_SECRET", "")}],
    }
_gitlab_id = config.string("SSO_GITLAB_CLIENT_ID", "")
if _gitlab_id:
    SOCIALACCOUNT_PROVIDERS["gitlab"] = {
        "SCOPE": ["read_user"],
        "APPS": [
            {
                "client_id": _gitlab_id,
                "secret": config.string("SSO_GITLAB_CLIENT_SECRET", ""),
                "settings": {"gitlab_url": config.url("SSO_GITLAB_URL", ("https", "http")) or "https://gitlab.com"},
            }
        ],
    }
_google_id = config.string("SSO_GOOGLE_CLIENT_ID", "")
if _google_id:
    SOCIALACCOUNT_PROVIDERS["google"] = {
        "SCOPE": ["openid", "email", "profile"],
        "OAUTH_PKCE_ENABLED": True,
        "APPS": [{"client_id": _google_id, "secret": config.string("SSO_GOOGLE_CLIENT_SECRET", "")}],
    }
SOCIALACCOUNT_ONLY = False  # allauth's switch disables passwords for everyone; SSO_ONLY spares superusers
SSO_ONLY = config.boolean("SSO_ONLY", False)
SSO_ALLOWED_EMAIL_DOMAINS = [d.lower().lstrip("@") for d in config.string_list("SSO_ALLOWED_EMAIL_DOMAINS", [])]
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_LOGIN_ON_GET = False

# --- Internationalization, static files ------------------------------------------------
LANGUAGE_CODE = "en-us"
# 24-hour UTC times in ISO order everywhere Django formats a date itself (the admin): devops_insights/formats/.
FORMAT_MODULE_PATH = ["devops_insights.formats"]
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

# --- Dashboards (dashboard/) -----------------------------------------------------------
# Content-Security-Policy (django-csp 4): our own origin only, no inline scripts or styles. Pages pass
# data to scripts with json_script and data attributes; uPlot sizes its canvas through the CSSOM, which
# style-src does not restrict. 'self' covers the same-origin ws:/wss: socket in current browsers.
_CSP_DIRECTIVES = {
    "default-src": [SELF],
    "script-src": [SELF],
    "style-src": [SELF],
    "img-src": [SELF, "data:"],
    "font-src": [SELF],
    "connect-src": [SELF],
    "object-src": [NONE],
    "base-uri": [SELF],
    "form-action": [SELF],
    "frame-ancestors": [NONE],
}
if config.boolean("CSP_REPORT_ONLY", False):
    CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": _CSP_DIRECTIVES}
else:
    CONTENT_SECURITY_POLICY = {"DIRECTIVES": _CSP_DIRECTIVES}
# --- Status pages (statuspages/, docs/status-pages.md) -------------------------------------
# How long a built page is reused; edits and health changes show at once anyway (generation keys).
STATUS_PAGE_CACHE_SECONDS = config.integer("STATUS_PAGE_CACHE_SECONDS", 30, minimum=1, maximum=3600)
STATUS_PAGE_RATE_LIMIT_IP = config.rate("STATUS_PAGE_RATE_LIMIT_IP", "300/m")  # public page requests per client IP
# Password tries per client IP and page: a password-protected page resists guessing.
STATUS_PAGE_PASSWORD_RATE_LIMIT = config.rate("STATUS_PAGE_PASSWORD_RATE_LIMIT", "10/15m")
STATUS_PAGE_UNLOCK_DAYS = config.integer(
    "STATUS_PAGE_UNLOCK_DAYS", 7, minimum=1, maximum=365
)  # the unlock cookie's life
# Feeds, Statuspage v2 JSON and badges (statuspages/feed_access.py) share the two limits above; this is
# how long clients and shared caches may keep a public page's copies (seconds).
STATUS_FEEDS_MAX_AGE = config.integer("STATUS_FEEDS_MAX_AGE", 60, minimum=0, maximum=3600)
DASHBOARD_STALE_AFTER_INTERVALS = config.integer("DASHBOARD_STALE_AFTER_INTERVALS", 2, minimum=1, maximum=100)
# The drill-down's raw JSON: containers deeper than this shown collapsed, the text cut at this size;
# latest.json is pretty-printed within the same size, else served compact (dashboard/raw_json.py).
# Boards (docs/boards.md): diff paths whose change records a deploy/change marker ("*" matches one level or more).
BOARDS_ANNOTATION_PATHS = config.string_list(
    "BOARDS_ANNOTATION_PATHS", ["version", "results.deployment.last_deployment"]
)
# Points per series a board chart gets at most (the bucket width follows from the range).
BOARDS_MAX_POINTS = config.integer("BOARDS_MAX_POINTS", 240, minimum=20, maximum=2000)
DASHBOARD_RAW_JSON_MAX_DEPTH = config.integer("DASHBOARD_RAW_JSON_MAX_DEPTH", 16, minimum=1, maximum=64)
DASHBOARD_RAW_JSON_MAX_BYTES = config.integer(
    "DASHBOARD_RAW_JSON_MAX_BYTES", 256 * 1024, minimum=4096, maximum=16 * 1024 * 1024
)

# --- API (api/): rate limits, login throttling, limits, CORS ---------------------------
API_RATE_LIMIT_TOKEN = config.rate("API_RATE_LIMIT_TOKEN", "600/m")  # per token (or per session user)
API_RATE_LIMIT_IP = config.rate("API_RATE_LIMIT_IP", "300/m")  # per client IP, before authentication
# Behind a reverse proxy REMOTE_ADDR is the proxy: name the header it sets (X-Forwarded-For) and how
# many proxies append to it, so the client IP is read from the entry the last trusted proxy wrote.
CLIENT_IP_HEADER = config.string("CLIENT_IP_HEADER", "").strip()
TRUSTED_PROXY_COUNT = config.integer("TRUSTED_PROXY_COUNT", 1, minimum=1, maximum=10)
RATELIMIT_USE_CACHE = "default"
RATELIMIT_IP_META_KEY = "accounts.client_ip.client_ip"
# A cache outage should not lock every client out; limits resume when the cache returns.
RATELIMIT_FAIL_OPEN = config.boolean("RATELIMIT_FAIL_OPEN", True)
RATELIMIT_ENABLE = config.boolean("RATELIMIT_ENABLE", True)

API_MAX_BODY_BYTES = config.integer("API_MAX_BODY_BYTES", 64 * 1024, minimum=1024)
# POST /api/v1/config/plan|apply carry whole configuration directories: their own, larger limit, under
# Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MiB) which refuses any larger body first.
CONFIG_API_MAX_BODY_BYTES = config.integer("CONFIG_API_MAX_BODY_BYTES", 2 * 1024 * 1024, minimum=1024, maximum=2621440)
API_PAGE_SIZE = config.integer("API_PAGE_SIZE", 50, minimum=1, maximum=1000)
# The stores return at most 1000 entries a page (metrics.stores.arguments.MAX_HISTORY_LIMIT).
API_MAX_PAGE_SIZE = config.integer("API_MAX_PAGE_SIZE", 1000, minimum=1, maximum=1000)
if API_PAGE_SIZE > API_MAX_PAGE_SIZE:
    raise ConfigError("API_PAGE_SIZE", f"must not exceed API_MAX_PAGE_SIZE ({API_MAX_PAGE_SIZE}), got {API_PAGE_SIZE}")
API_SERIES_MAX_BUCKETS = config.integer("API_SERIES_MAX_BUCKETS", 2000, minimum=10)
API_EXPORT_PAGE_SIZE = config.integer("API_EXPORT_PAGE_SIZE", 500, minimum=10, maximum=1000)
API_READY_TIMEOUT = config.number("API_READY_TIMEOUT", 2.0, minimum=0.1)
API_READY_POLLER_MAX_AGE = config.integer("API_READY_POLLER_MAX_AGE", 90, minimum=5)
API_READY_REQUIRE_POLLER = config.boolean("API_READY_REQUIRE_POLLER", True)

# CORS is closed unless origins are listed; tokens travel in a header, so no cookies cross origins.
CORS_ALLOWED_ORIGINS = config.origins("API_CORS_ALLOWED_ORIGINS", [])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_CREDENTIALS = False
CORS_EXPOSE_HEADERS = [
    "ETag",
    "Last-Modified",
    "Retry-After",
    "X-Request-ID",
    "Location",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
]
CORS_PREFLIGHT_MAX_AGE = 3600

# --- Observability (observability/): logs, /metrics, tracing ---------------------------
LOG_LEVEL = config.choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error")).upper()
LOG_FORMAT = config.choice("LOG_FORMAT", "text", ("text", "json"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "devops_insights.logging.JsonFormatter"},
    },
    # The context filter stamps request_id / poll_id on every line (observability/context.py).
    "filters": {
        "context": {"()": "observability.context.ContextFilter"},
        "throttle": {"()": "observability.log_throttle.ThrottleFilter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Third-party clients can log full URLs; keep them quiet so credentials never reach logs.
        "urllib3": {"level": "WARNING"},
        "pymongo": {"level": "WARNING"},
        # Apprise's lines can name a notification URL: alerts.apprise_channel collects them itself.
        "apprise": {"level": "WARNING", "handlers": [], "propagate": False},
        # django-redis logs every cache call it ignores while Redis is down: one line per 30 s is enough.
        "metrics.cache": {"filters": ["throttle"]},
        # A busy process (devops_insights/busy.py, admission.py) says so once per 30 s, with the count held back.
        "devops_insights.busy": {"filters": ["throttle"]},
        "devops_insights.admission": {"filters": ["throttle"]},
    },
}
# The project's access log (observability/access_log.py) replaces daphne's: query values of these
# names, plus the built-in sensitive ones (token, key, password, secret, signature...), are redacted.
ACCESS_LOG = config.boolean("ACCESS_LOG", True)
ACCESS_LOG_REDACT_PARAMS = config.string_list("ACCESS_LOG_REDACT_PARAMS", [])
# /metrics: a scrape passes with the bearer token or from an allowlisted address (direct
# connections only: a request that came through a proxy must use the token).
METRICS_TOKEN = config.string("METRICS_TOKEN", "")
METRICS_ALLOWED_IPS = config.networks("METRICS_ALLOWED_IPS", ["127.0.0.1/32", "::1/128"])
# The poller is its own process; its counters are served by a small HTTP server of its own (0: off).
POLLER_METRICS_PORT = config.integer("POLLER_METRICS_PORT", 0, minimum=0, maximum=65535)
POLLER_METRICS_ADDR = config.string("POLLER_METRICS_ADDR", "127.0.0.1")
# Tracing is off unless an OTLP/HTTP collector is named.
OTEL_EXPORTER_OTLP_ENDPOINT = config.url("OTEL_EXPORTER_OTLP_ENDPOINT", ("http", "https"))
OTEL_SERVICE_NAME = config.string("OTEL_SERVICE_NAME", "devops-insights")
OTEL_TRACES_SAMPLE_RATIO = config.number("OTEL_TRACES_SAMPLE_RATIO", 1.0, minimum=0.0)
if OTEL_TRACES_SAMPLE_RATIO > 1.0:
    raise ConfigError("OTEL_TRACES_SAMPLE_RATIO", f"must be at most 1.0, got {OTEL_TRACES_SAMPLE_RATIO}")

# --- Feature flags (provisioning/, django-waffle) ---------------------------------------
# Our flag model adds teams to waffle's users, groups and percentage (docs/feature-flags.md); its admin is
# provisioning's, so waffle registers none of its own. A flag nobody made is off unless the code declares
# otherwise (provisioning/flags.py), and is never created by a request.
WAFFLE_FLAG_MODEL = "provisioning.Flag"
WAFFLE_ENABLE_ADMIN_PAGES = False
WAFFLE_CREATE_MISSING_FLAGS = False
WAFFLE_FLAG_DEFAULT = False

# --- Alerting (alerts/) and email ------------------------------------------------------
ALERTS_ENABLED = config.boolean("ALERTS_ENABLED", True)
ALERTS_RENOTIFY_INTERVAL = config.integer("ALERTS_RENOTIFY_INTERVAL", 3600, minimum=60)
ALERTS_PUBLISH_LIVE = config.boolean("ALERTS_PUBLISH_LIVE", True)
ALERTS_DELIVERY_MODE = config.choice("ALERTS_DELIVERY_MODE", "thread", ("thread", "command"))
ALERTS_DELIVERY_CONCURRENCY = config.integer("ALERTS_DELIVERY_CONCURRENCY", 4, minimum=1, maximum=64)
ALERTS_DELIVERY_BATCH = config.integer("ALERTS_DELIVERY_BATCH", 100, minimum=1, maximum=10000)
ALERTS_DELIVERY_POLL_INTERVAL = config.number("ALERTS_DELIVERY_POLL_INTERVAL", 5.0, minimum=0.05)
ALERTS_DELIVERY_MAX_ATTEMPTS = config.integer("ALERTS_DELIVERY_MAX_ATTEMPTS", 6, minimum=1, maximum=100)
ALERTS_DELIVERY_BACKOFF_BASE = config.number("ALERTS_DELIVERY_BACKOFF_BASE", 10.0, minimum=0.0)
ALERTS_DELIVERY_BACKOFF_MAX = config.number("ALERTS_DELIVERY_BACKOFF_MAX", 900.0, minimum=0.0)
ALERTS_WEBHOOK_CONNECT_TIMEOUT = config.number("ALERTS_WEBHOOK_CONNECT_TIMEOUT", 3.0, minimum=0.1)
ALERTS_WEBHOOK_TIMEOUT = config.number("ALERTS_WEBHOOK_TIMEOUT", 5.0, minimum=0.1)
ALERTS_EVENT_RETENTION_DAYS = config.integer("ALERTS_EVENT_RETENTION_DAYS", 90, minimum=1)
# Anomaly rules judge each source's last hour in one of the hour's first N minutes (alerts/anomaly_spread.py).
ALERTS_ANOMALY_SPREAD_MINUTES = config.integer("ALERTS_ANOMALY_SPREAD_MINUTES", 10, minimum=1, maximum=30)
# A process reads the alert rules' shared generation at most once per this many seconds (alerts/rule_cache.py):
# without Redis each read is a query on the shared cache table, per poll. A change saved in this process
# applies at its next poll whatever the interval; one saved in another process within it. 0 = every poll.
ALERT_RULES_RECHECK_SECONDS = config.number("ALERT_RULES_RECHECK_SECONDS", 1.0, minimum=0.0)
# The address people open this app at: links in notifications. ALERTS_PUBLIC_URL is its older name.
SITE_URL = config.url("SITE_URL", ("http", "https")) or config.url("ALERTS_PUBLIC_URL", ("http", "https")) or ""
ALERTS_PUBLIC_URL = SITE_URL
ALERTS_DEFAULT_UNREACHABLE_RULE = config.boolean("ALERTS_DEFAULT_UNREACHABLE_RULE", True)
ALERTS_EMAIL_FROM = config.string("ALERTS_EMAIL_FROM", "devops-insights@localhost")
# Apprise channels: vendor services only, unless generic json://, xml://, form:// are allowed too.
APPRISE_ALLOW_GENERIC = config.boolean("APPRISE_ALLOW_GENERIC", False)
# Fernet keys for secrets stored in the database (Apprise URLs): the first encrypts, every one decrypts.
FIELD_ENCRYPTION_KEYS = config.fernet_keys("FIELD_ENCRYPTION_KEY")
# Django's email backend: SMTP when EMAIL_HOST is set, else messages are written to the log (console).
EMAIL_HOST = config.string("EMAIL_HOST", "")
EMAIL_PORT = config.integer("EMAIL_PORT", 587, minimum=1, maximum=65535)
EMAIL_HOST_USER = config.string("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = config.string("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = config.boolean("EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = config.integer("EMAIL_TIMEOUT", 10, minimum=1)
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend"
)
# EMAIL_URL (smtp://, smtp+tls://, smtp+ssl://, consolemail://, memorymail://...) wins over the EMAIL_HOST variables.
_email = config.email("EMAIL_URL")
if _email:
    EMAIL_BACKEND = _email["EMAIL_BACKEND"]
    EMAIL_HOST = _email.get("EMAIL_HOST") or ""
    EMAIL_PORT = _email.get("EMAIL_PORT") or EMAIL_PORT
    EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER") or ""
    EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD") or ""
    EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS", False))
    EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL", False))
DEFAULT_FROM_EMAIL = ALERTS_EMAIL_FROM
SERVER_EMAIL = ALERTS_EMAIL_FROM
