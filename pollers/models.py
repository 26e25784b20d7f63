"""The source registry: what to poll, how, and how its polls have been going."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import ClassVar
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.db.models import Value
from django.utils import timezone

from accounts.models import TeamOwned
from metrics.defaults import default_metric_paths
from metrics.stores.base import SourceSpec
from pollers.signals import poller_process_changed, source_added

# Header names whose values are credentials: masked in the admin and never logged.
SECRET_HEADER_PATTERN = re.compile(r"authorization|token|secret|password|api[-_]?key|cookie|signature", re.I)
MASK = "••••••"


def default_interval() -> int:
    return int(settings.POLLER_DEFAULT_INTERVAL)


def default_tags() -> list[str]:
    return []


def default_headers() -> dict[str, str]:
    return {}


def default_volatile_paths() -> list[str]:
    return []


def default_pinned_metrics() -> list[str]:
    return []


MAX_PINNED_METRICS = 6
MAX_METRIC_NAME_LENGTH = 64


def validate_pinned_metrics(value: object) -> None:
    """A short list of metric names (keys of ``metric_paths``) shown first on the source's card."""
    if not isinstance(value, list) or not all(isinstance(name, str) and name.strip() for name in value):
        raise ValidationError('Pinned metrics must be a JSON list of metric names, e.g. ["queue_depth"].')
    if len(value) > MAX_PINNED_METRICS:
        raise ValidationError(f"Pin at most {MAX_PINNED_METRICS} metrics ({len(value)} given).")
    too_long = [name for name in value if len(name) > MAX_METRIC_NAME_LENGTH]
    if too_long:
        raise ValidationError(f"A metric name is at most {MAX_METRIC_NAME_LENGTH} characters: {too_long[0][:80]!r}.")


class SourceAlertLevel(models.TextChoices):
    """``Source.alert_state``: the worst severity among our alert rules firing for the source (alerts/ sets it).

    Not to be confused with ``alerts.models.RuleState`` (where one rule stands for one source) nor with the
    alert counts a source reports in its own payload (``results.alerts``).
    """

    OK = "ok", "OK"
    DEGRADED = "degraded", "Degraded"  # a warning alert is firing
    CRITICAL = "critical", "Critical"  # a critical alert is firing


# Health fields the poller owns; refreshed before each poll (another process may have polled
# since) and written with a targeted UPDATE so an admin editing the source loses nothing.
HEALTH_FIELDS = (
    "last_polled_at",
    "last_success_at",
    "last_error_at",
    "last_error_kind",
    "last_error_message",
    "consecutive_failures",
    "circuit_state",
    "circuit_opened_at",
    "last_latency_ms",
    "last_status_code",
    "upstream_etag",
    "upstream_last_modified",
)
# Fields holding ciphertext (devops_insights.crypto): never shown, exported or logged, only replaced.
ENCRYPTED_FIELDS = ("auth_secret_encrypted", "tls_client_key_encrypted")


DEFAULT_PORTS = {"http": 80, "https": 443}
# The names ``Source.secrets_kept_for_new_origin`` gives the stored secrets that are not headers.
AUTH_SECRET = "auth_secret"  # noqa: S105 - a field name, not a password
CLIENT_KEY = "tls_client_key"


def url_origin(url: str) -> tuple[str, str, int | None] | None:
    """Where a URL sends a request: scheme, host and port (the scheme's default port when none is written).

    None when it cannot be read (a bracket left open, a port out of range): never the same origin as any URL.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower().rstrip("."), port or DEFAULT_PORTS.get(scheme)


def same_origin(url: str, other: str) -> bool:
    origin = url_origin(url)
    return origin is not None and origin == url_origin(other)


# How the forms tell a user to give a stored password or client key again, or remove it (``kept_secrets_errors``);
# the API says it in its own fields' words (``api.source_input``).
FORM_REMEDIES: Mapping[str, str] = {
    AUTH_SECRET: "Type the password or token again, or remove it (the admin, a config file, the API)",
    CLIENT_KEY: "Paste the client private key again, or remove it (the admin, a config file, the API)",
}


def kept_secrets_errors(kept: Collection[str], remedies: Mapping[str, str] = FORM_REMEDIES) -> dict[str, str]:
    """The error of each field of ``Source.secrets_kept_for_new_origin``'s answer, for the API and the forms;
    ``remedies`` says how to give the password (``AUTH_SECRET``) or the client key (``CLIENT_KEY``) again."""
    why = "the URL now points to another server (scheme, host or port), and a stored secret is never sent on to it"
    errors: dict[str, str] = {}
    headers = [name for name in kept if name not in (AUTH_SECRET, CLIENT_KEY)]
    if headers:
        names = ", ".join(headers)
        errors["headers"] = f"Send again or remove the header{'s' if len(headers) > 1 else ''} {names}: {why}."
    for secret in (AUTH_SECRET, CLIENT_KEY):
        if secret in kept:
            errors[secret] = f"{remedies[secret]}: {why}."
    return errors


class SourceQuerySet(models.QuerySet):
    def enabled(self) -> SourceQuerySet:
        return self.filter(enabled=True)

    def sending_credentials_unverified(self) -> list[Source]:
        """The sources that send credentials where anyone on the network path could read them, by the one rule
        (``Source.credentials_sent_unverified``): those stored before it refused them, which keep polling as
        stored. Judged per source, in Python: the rule reads the URL's host and the header names, which SQL
        cannot judge alike; one query, whatever the count. The query leaves out, in SQL, the sources the rule
        clears at once (acknowledged, or verified TLS on an https URL), so that a team of thousands of sources
        does not load them all at every refresh of the system page: a superset, judged by the rule."""
        candidates = self.filter(insecure_credentials_acknowledged=False).filter(
            models.Q(tls_verify=False) | ~models.Q(url__istartswith="https://")
        )
        return [source for source in candidates if source.credentials_sent_unverified()]


class Source(TeamOwned):
    class Circuit(models.TextChoices):
        CLOSED = "closed", "Closed"
        OPEN = "open", "Open"
        HALF_OPEN = "half_open", "Half-open"

    class AuthScheme(models.TextChoices):
        NONE = "", "None"
        BASIC = "basic", "HTTP Basic (username and password)"
        BEARER = "bearer", "Bearer token"

    # State written on every poll by the poller (health) and by the alerts (alert_state), not configuration:
    # the audit trail leaves these out (accounts/audited_models.py).
    RUNTIME_FIELDS: ClassVar[tuple[str, ...]] = ("updated_at", *HEALTH_FIELDS, "alert_state")

    slug = models.SlugField(max_length=64, unique=True)
    # The owner: who may see, operate and manage this source (accounts/teams.py).
    team = models.ForeignKey("accounts.Team", on_delete=models.PROTECT, related_name="sources", blank=True)
    name = models.CharField("display name", max_length=120)
    url = models.URLField(max_length=2000)
    enabled = models.BooleanField(default=True)
    interval_seconds = models.PositiveIntegerField(
        default=default_interval, validators=[MinValueValidator(5), MaxValueValidator(86400)]
    )
    timeout_seconds = models.FloatField(default=10.0, validators=[MinValueValidator(0.5), MaxValueValidator(120)])
    headers = models.JSONField(default=default_headers, blank=True, help_text="Extra request headers.")
    region = models.CharField(max_length=64, blank=True, db_index=True)
    tags = models.JSONField(default=default_tags, blank=True)
    metric_paths = models.JSONField(
        default=default_metric_paths, blank=True, help_text="Metric name to dotted path into the payload."
    )
    volatile_paths = models.JSONField(
        default=default_volatile_paths, blank=True, help_text="Dotted paths left out of change detection."
    )
    pinned_metrics = models.JSONField(
        default=default_pinned_metrics,
        # A database default too: rows written by code that predates the column (an older release
        # during a rolling deploy, migration tests at an older state) get an empty list, not a NULL.
        db_default=Value([], output_field=models.JSONField()),
        blank=True,
        validators=[validate_pinned_metrics],
        help_text='Metric names (keys of the metric paths) shown first on the card, e.g. ["queue_depth"].',
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # How to reach the upstream on an enterprise network (pollers/transport.py, docs/polling.md). Every column
    # added with it has a database default, so code that does not know them (a web process not yet restarted
    # in a rolling deploy, a migration test at an older state) can still insert a source.
    proxy = models.CharField(
        default="",
        db_default="",
        max_length=300,
        blank=True,
        help_text='Empty: POLLER_PROXY (or none). "direct": no proxy. Else a proxy URL from POLLER_ALLOWED_PROXIES.',
    )
    tls_verify = models.BooleanField(
        "verify TLS certificates",
        db_default=True,
        default=True,
        help_text="Turning this off lets anyone on the path impersonate the upstream; shown as a warning.",
    )
    # A standing, per-source decision, stored so every later edit (and every run of a config file) keeps it.
    insecure_credentials_acknowledged = models.BooleanField(
        "send credentials over an insecure connection",
        db_default=False,
        default=False,
        help_text="Needed to save a source that sends a password, token or credential header over plain http to a "
        "host other than loopback, or with TLS verification off: anyone on the path could read them.",
    )
    tls_ca_pem = models.TextField(
        "trusted CA certificates (PEM)",
        default="",
        db_default="",
        blank=True,
        help_text="Trust only these CAs for this source.",
    )
    tls_client_cert_pem = models.TextField("client certificate (PEM)", blank=True, default="", db_default="")
    tls_client_key_encrypted = models.TextField(
        blank=True, editable=False, default="", db_default=""
    )  # Fernet token of the key
    auth_scheme = models.CharField(
        max_length=10, choices=AuthScheme.choices, default=AuthScheme.NONE, blank=True, db_default=""
    )
    auth_username = models.CharField(max_length=200, blank=True, default="", db_default="")
    auth_secret_encrypted = models.TextField(
        blank=True, editable=False, default="", db_default=""
    )  # Fernet: password or token

    # Poll health, kept up to date by the poller.
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_error_kind = models.CharField(max_length=40, blank=True)
    last_error_message = models.CharField(max_length=500, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    circuit_state = models.CharField(max_length=10, choices=Circuit.choices, default=Circuit.CLOSED)
    circuit_opened_at = models.DateTimeField(null=True, blank=True)
    last_latency_ms = models.FloatField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    # The upstream's validators from its last full answer, sent back as If-None-Match / If-Modified-Since.
    upstream_etag = models.CharField("upstream ETag", max_length=200, blank=True, default="", db_default="")
    upstream_last_modified = models.CharField(
        "upstream Last-Modified", max_length=200, blank=True, default="", db_default=""
    )

    # Worst alert currently firing for this source, kept up to date by the alert evaluator.
    alert_state = models.CharField(max_length=10, choices=SourceAlertLevel.choices, default=SourceAlertLevel.OK)

    objects = SourceQuerySet.as_manager()

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name or self.slug

    def add(self) -> None:
        """Store this new source as one a person or a tool added, and announce it (``source_added``).

        The one home of "added, so it gets the defaults": the dashboard, the admin, the API and ``seed_demo`` call it;
        configuration as code does not (pollers/signals.py says why). Insert and announcement share one
        transaction, so the source is stored with what the receivers add (its "unreachable" rule) or not at all.
        """
        if not self._state.adding:
            # An existing row announced as new would get a second set of defaults.
            raise ValueError(f"Source.add stores a new source; {self.slug!r} is already stored")
        with transaction.atomic():
            self.save(force_insert=True)
            source_added.send(sender=Source, source=self)

    def clean(self) -> None:
        super().clean()
        if self.url:
            # Imported here: the guard imports requests, which the models module should not need.
            from pollers.ssrf import UnsafeURLError, resolve_target
            from pollers.validation import url_problem

            # Before the guard, which would look up a host name cut short by it, or a URL it strips.
            problem = url_problem(self.url)
            if problem is not None:
                raise ValidationError({"url": problem})
            try:
                resolve_target(self.url)
            except UnsafeURLError as exc:
                raise ValidationError({"url": str(exc)}) from None
        if not isinstance(self.headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.headers.items()
        ):
            raise ValidationError({"headers": "Headers must be a JSON object of string names to string values."})
        from pollers.validation import validate_request_headers

        try:
            validate_request_headers(self.headers)  # CR/LF and other control characters: refused at save
        except ValidationError as exc:
            raise ValidationError({"headers": exc.messages}) from None
        pinned = self.pinned_metrics if isinstance(self.pinned_metrics, list) else []
        paths = self.metric_paths if isinstance(self.metric_paths, dict) else {}
        unknown = [name for name in pinned if name not in paths]
        if unknown:
            raise ValidationError(
                {"pinned_metrics": f"Not a metric of this source: {', '.join(str(n)[:64] for n in unknown[:5])}."}
            )
        self._clean_network()

    def _clean_network(self) -> None:
        from pollers.transport import TransportError, check_ca_pem, check_source_proxy
        from pollers.validation import basic_username_problem

        errors: dict[str, str] = {}
        try:
            self.proxy = check_source_proxy(self.proxy or "", settings.POLLER_ALLOWED_PROXIES, settings.POLLER_PROXY)
        except TransportError as exc:
            errors["proxy"] = exc.message
        if self.tls_ca_pem.strip():
            try:
                check_ca_pem(self.tls_ca_pem)
            except TransportError as exc:
                errors["tls_ca_pem"] = exc.message
        if self.auth_scheme == self.AuthScheme.BASIC:
            problem = basic_username_problem(self.auth_username or "")
            if problem is not None:
                errors["auth_username"] = problem
        if self.auth_scheme and any(name.lower() == "authorization" for name in self.headers or {}):
            errors["auth_scheme"] = "Remove the Authorization header, or leave the authentication scheme empty."
        errors.update(self.credentials_sent_unverified())
        if errors:
            raise ValidationError(errors)

    def credentials_sent_unverified(self) -> dict[str, str]:
        """Why anyone on the network path could read this source's credentials, by the field to change: ``url`` for
        plain http to a host other than loopback, ``tls_verify`` for verification off. Each message names what is
        sent (its password or token, the names of its credential headers), never a value. Empty when the source
        sends no credentials, sends them only over verified TLS or to loopback, or the risk is acknowledged.

        The one rule for every path (the admin, the dashboard's form and its Test, the API, configuration files: all
        run ``clean``), and for flagging a source stored before it (its page and card, the system page through
        ``SourceQuerySet.sending_credentials_unverified``, the API's ``credentials_sent_unverified``). A scheme counts
        whether its secret is stored or given in the same edit (which needs a scheme).
        A client key does not count: TLS proves it with a signature bound to the handshake, it never leaves the
        poller. A pinned CA (``tls_ca_pem``) does not excuse verification off: the poller trusts nothing then. Off
        on an http URL still counts: a redirect to https on the same host keeps the credentials.
        """
        if self.insecure_credentials_acknowledged:
            return {}
        sent = self._credentials_sent()
        if not sent:
            return {}
        what = " and ".join(sent)
        acknowledge = (
            "or acknowledge the risk with send credentials over an insecure connection "
            "(insecure_credentials_acknowledged)."
        )
        problems: dict[str, str] = {}
        if self._plain_http_beyond_loopback():
            problems["url"] = (
                f"The URL is plain http while the source sends {what}: anyone on the network path can read what it "
                f"sends. Use https, {acknowledge}"
            )
        if not self.tls_verify:
            problems["tls_verify"] = (
                f"Verification is off while the source sends {what}: anyone on the network path could pose as the "
                "upstream and read what it sends. Turn verification on (a private CA goes in the trusted CA "
                f"certificates, tls_ca_pem, which are not used while verification is off), {acknowledge}"
            )
        return problems

    def _credentials_sent(self) -> list[str]:
        sent = []
        if self.auth_scheme == self.AuthScheme.BASIC:
            sent.append("its Basic password")
        elif self.auth_scheme == self.AuthScheme.BEARER:
            sent.append("its Bearer token")
        headers = self.headers if isinstance(self.headers, dict) else {}
        secret_headers = [
            str(name) for name, value in headers.items() if SECRET_HEADER_PATTERN.search(str(name)) and value
        ]
        if secret_headers:
            sent.append(f"the header{'s' if len(secret_headers) > 1 else ''} {', '.join(secret_headers)}")
        return sent

    def _plain_http_beyond_loopback(self) -> bool:
        # Loopback never leaves the machine, so a local exporter over http is not exposed; a name other than
        # localhost may resolve anywhere, so only literal loopback addresses and localhost count.
        try:
            parts = urlsplit(self.url or "")
            host = parts.hostname or ""
        except ValueError:
            return False  # an unparsable URL is refused on its own, naming url
        if parts.scheme.lower() != "http":
            return False
        if host == "localhost" or host.endswith(".localhost"):
            return False
        try:
            return not ipaddress.ip_address(host).is_loopback
        except ValueError:
            return True

    def spec(self) -> SourceSpec:
        return SourceSpec(
            slug=self.slug,
            metric_paths=dict(self.metric_paths or {}),
            volatile_paths=tuple(self.volatile_paths or ()),
        )

    def masked_headers(self) -> dict[str, str]:
        """Headers safe to show or log: credential values replaced by a mask."""
        return {k: (MASK if SECRET_HEADER_PATTERN.search(k) else v) for k, v in (self.headers or {}).items()}

    # --- credentials: write-only, encrypted at rest ------------------------------------------------
    def set_auth_secret(self, plaintext: str) -> None:
        """Store a password or token, encrypted; "" removes it. Raises crypto.SecretUnavailable without a key."""
        from devops_insights import crypto

        self.auth_secret_encrypted = crypto.encrypt(plaintext) if plaintext else ""

    def set_client_key(self, pem: str) -> None:
        from devops_insights import crypto

        self.tls_client_key_encrypted = crypto.encrypt(pem) if pem else ""

    def secrets_kept_for_new_origin(
        self, url: str, headers: Mapping[str, str], replaced: Collection[str] = ()
    ) -> list[str]:
        """The stored secrets of this source (as saved) that an edit to ``url`` and ``headers`` would send to
        another origin (scheme, host, port): a stored secret is never sent on to another server.

        A secret header whose stored value is kept, the password or token and the client key count, unless
        their name is in ``replaced``: given again (or cleared) by the same edit. Names: each header's name,
        ``AUTH_SECRET``, ``CLIENT_KEY``. Empty for a new source or an edit that keeps the origin.
        """
        if self.pk is None or same_origin(str(self.url), url):
            return []
        kept = [
            name
            for name, value in (self.headers or {}).items()
            if SECRET_HEADER_PATTERN.search(name) and value and headers.get(name) == value and name not in replaced
        ]
        if self.auth_secret_encrypted and AUTH_SECRET not in replaced:
            kept.append(AUTH_SECRET)
        if self.tls_client_key_encrypted and CLIENT_KEY not in replaced:
            kept.append(CLIENT_KEY)
        return kept

    @property
    def has_auth_secret(self) -> bool:
        return bool(self.auth_secret_encrypted)

    @property
    def has_client_key(self) -> bool:
        return bool(self.tls_client_key_encrypted)


class PollerProcessQuerySet(models.QuerySet):
    def alive(self, within: timedelta = timedelta(seconds=30)) -> PollerProcessQuerySet:
        """Running pollers: heartbeat within ``within`` and not stopped cleanly."""
        return self.filter(last_heartbeat_at__gte=timezone.now() - within, stopped_at__isnull=True)


class PollerProcess(models.Model):
    """One running poller, heartbeating while it runs: for the readiness check and the system page."""

    process_id = models.CharField(max_length=64, unique=True)  # hostname:pid:random
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    last_heartbeat_at = models.DateTimeField(db_index=True)
    leases_held = models.PositiveIntegerField(default=0)
    polls_done = models.PositiveBigIntegerField(default=0)
    lease_backend = models.CharField(max_length=20, default="local")  # "redis" or "local"
    stopped_at = models.DateTimeField(null=True, blank=True)

    objects = PollerProcessQuerySet.as_manager()

    class Meta:
        ordering = ["-last_heartbeat_at"]
        verbose_name_plural = "poller processes"

    def __str__(self) -> str:
        return self.process_id

    @classmethod
    def register(cls, process_id: str, hostname: str, pid: int, lease_backend: str) -> PollerProcess:
        now = timezone.now()
        # Every start is a new row: forget processes silent for a day so the list stays readable.
        cls.objects.filter(last_heartbeat_at__lt=now - timedelta(days=1)).delete()
        process, _ = cls.objects.update_or_create(
            process_id=process_id,
            defaults={
                "hostname": hostname[:255],
                "pid": pid,
                "started_at": now,
                "last_heartbeat_at": now,
                "lease_backend": lease_backend,
                "stopped_at": None,
            },
        )
        poller_process_changed.send_robust(sender=cls, process=process)
        return process

    def beat(self, leases_held: int, polls_done: int) -> None:
        self.last_heartbeat_at = timezone.now()
        self.leases_held = leases_held
        self.polls_done = polls_done
        PollerProcess.objects.filter(pk=self.pk).update(
            last_heartbeat_at=self.last_heartbeat_at, leases_held=leases_held, polls_done=polls_done
        )

    def mark_stopped(self, polls_done: int) -> None:
        self.stopped_at = timezone.now()
        PollerProcess.objects.filter(pk=self.pk).update(
            stopped_at=self.stopped_at, leases_held=0, polls_done=polls_done
        )
        poller_process_changed.send_robust(sender=PollerProcess, process=self)


def failure_history_size() -> int:
    return int(settings.POLLER_FAILURE_HISTORY)


class PollFailureQuerySet(models.QuerySet):
    def recent_for(self, source: Source, limit: int | None = None) -> PollFailureQuerySet:
        """The source's failed polls, newest first (one indexed query)."""
        return self.filter(source=source).order_by("-occurred_at", "-id")[: limit or failure_history_size()]


class PollFailure(models.Model):
    """One failed poll of one source: a short, bounded log behind ``Source.last_error_*``.

    The message is the fetcher's, which never carries header values or query strings; ``record``
    masks the source's credential header values anyway, as a second line of defence.
    """

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="poll_failures")
    occurred_at = models.DateTimeField(db_index=True)
    kind = models.CharField(max_length=40)
    message = models.CharField(max_length=500, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    poll_id = models.CharField(max_length=32, blank=True)

    objects = PollFailureQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["source", "-occurred_at"], name="pollfailure_source_recent")]

    def __str__(self) -> str:
        return f"{self.source_id} {self.kind} at {self.occurred_at:%Y-%m-%d %H:%M:%S}"

    @classmethod
    def record(
        cls,
        source: Source,
        *,
        occurred_at: datetime,
        kind: str,
        message: str,
        status_code: int | None = None,
        latency_ms: float | None = None,
        poll_id: str = "",
        keep: int | None = None,
    ) -> PollFailure:
        """Add a failure and trim the source's log to its newest ``keep`` rows.

        Trimming costs one indexed lookup of the ``keep``-th newest row and one DELETE of what is
        older, usually a single row: the log never grows past ``keep`` between polls.
        """
        keep = failure_history_size() if keep is None else keep
        for name, value in (source.headers or {}).items():
            # Only credential headers, and only values long enough not to mask ordinary words.
            if SECRET_HEADER_PATTERN.search(name) and isinstance(value, str) and len(value) >= 4:
                message = message.replace(value, MASK)
        # A savepoint: a failed insert must not break a transaction the caller is in.
        with transaction.atomic():
            failure = cls.objects.create(
                source=source,
                occurred_at=occurred_at,
                kind=kind[:40],
                message=message[:500],
                status_code=status_code,
                latency_ms=latency_ms,
                poll_id=poll_id[:32],
            )
            oldest_kept = list(
                cls.objects.filter(source=source)
                .order_by("-occurred_at", "-id")
                .values_list("occurred_at", "id")[keep - 1 : keep]
            )
            if oldest_kept:
                at, pk = oldest_kept[0]
                cls.objects.filter(source=source).filter(
                    models.Q(occurred_at__lt=at) | models.Q(occurred_at=at, id__lt=pk)
                ).delete()
        return failure


class PollerLease(models.Model):
    """A source's lease in the database: the fallback while Redis is unreachable (pollers/leases.py).

    One row per source: the newest slot claimed and, while a poll is in flight, the owner's token
    and expiry (database time). A claim is one compare-and-set on this row, so two pollers can
    never both win a slot.
    """

    slug = models.CharField(max_length=64, unique=True)
    slot = models.BigIntegerField()
    token = models.CharField(max_length=32, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.slug} slot {self.slot}"
