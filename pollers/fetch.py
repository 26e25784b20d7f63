"""Fetch one source's JSON document, surviving everything a real upstream does.

One ``requests.Session`` per worker thread (connection pooling without sharing a session across
threads), connect and read timeouts on every request, an overall per-attempt deadline so a slow
drip of bytes ends, the body streamed, decoded (gzip, deflate, br, zstd: ``pollers.decoding``) and
cut at ``POLLER_MAX_BODY_BYTES`` of decoded bytes, its charset honoured and its nesting checked
before parsing (``metrics.jsonlimits``), every redirect hop checked by the SSRF guard and connected to
the checked address. A source may have its own proxy, CAs and client certificate
(``pollers.transport``); a conditional request answered 304 comes back as ``not_modified``. Retries with exponential
backoff and full jitter on connection errors, timeouts and 5xx; 429 waits for ``Retry-After``
(capped); other 4xx are final. A ``Retry-After`` is honoured for at most ``POLLER_RETRY_AFTER_MAX``.

Errors come back as a ``FetchResult`` with a short ``error_kind`` and a message that never
contains a header value or the URL's query string.
"""

from __future__ import annotations

import email.utils
import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError

from devops_insights.collector import detached
from metrics.jsonlimits import BodyError, parse_object, upstream_budget
from pollers.decoding import ACCEPT_ENCODING, DecodingError, Pipeline
from pollers.models import SECRET_HEADER_PATTERN
from pollers.ratelimit import RateLimiter, acquire
from pollers.ssrf import Allowlist, PinnedAdapter, Resolver, Target, UnsafeURLError, resolve_target, system_resolver
from pollers.transport import DEFAULT_TRANSPORT, Transport, TransportError, proxies_for, proxy_label, ssl_context
from pollers.validation import url_problem

logger = logging.getLogger("pollers.fetch")

USER_AGENT = "DevOpsInsights-Poller/1.0"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
READ_CHUNK = 65536
CONDITIONAL_HEADERS = ("if-none-match", "if-modified-since")
MAX_VALIDATOR_LENGTH = 200  # longer ETags are not kept (and not worth a column)
MAX_TLS_PROFILES = 64  # per worker thread; the oldest session is closed beyond it


@dataclass(frozen=True)
class FetchPolicy:
    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    max_body_bytes: int = 1024 * 1024
    retries: int = 2
    backoff_base: float = 0.5
    backoff_max: float = 10.0
    max_redirects: int = 3
    allowed_private_hosts: tuple[str, ...] = ()
    pool_size: int = 4
    ca_bundle: str = ""  # PEM file of CAs to trust instead of the system's (private CAs)
    max_json_depth: int = 64
    proxy: str = ""  # POLLER_PROXY: every source goes through it unless the source says otherwise
    allowed_proxies: tuple[str, ...] = ()  # POLLER_ALLOWED_PROXIES: what a source may name as its proxy
    trust_env_proxy: bool = False  # POLLER_TRUST_ENV_PROXY: honour HTTP(S)_PROXY / NO_PROXY
    # POLLER_RETRY_AFTER_MAX: the longest Retry-After honoured. An upstream that says "a day" (or "forever")
    # is left alone that long, then tried again: one answer cannot stop its polling.
    retry_after_max: float = 3600.0

    @classmethod
    def from_settings(cls, **overrides: Any) -> FetchPolicy:
        values: dict[str, Any] = {
            "connect_timeout": settings.POLLER_CONNECT_TIMEOUT,
            "read_timeout": settings.POLLER_READ_TIMEOUT,
            "max_body_bytes": settings.POLLER_MAX_BODY_BYTES,
            "retries": settings.POLLER_RETRIES,
            "backoff_base": settings.POLLER_BACKOFF_BASE,
            "backoff_max": settings.POLLER_BACKOFF_MAX,
            "max_redirects": settings.POLLER_MAX_REDIRECTS,
            "allowed_private_hosts": tuple(settings.POLLER_ALLOWED_PRIVATE_HOSTS),
            "ca_bundle": settings.POLLER_CA_BUNDLE,
            "max_json_depth": upstream_budget().max_depth,  # POLLER_MAX_JSON_DEPTH
            "proxy": settings.POLLER_PROXY,
            "allowed_proxies": tuple(settings.POLLER_ALLOWED_PROXIES),
            "trust_env_proxy": settings.POLLER_TRUST_ENV_PROXY,
            "retry_after_max": settings.POLLER_RETRY_AFTER_MAX,
        }
        values.update(overrides)
        return cls(**values)

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Full jitter: uniform between 0 and the exponential ceiling for this attempt (1-based)."""
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return (rng or random).uniform(0, ceiling)


@dataclass
class FetchResult:
    ok: bool
    payload: dict[str, Any] | None = field(default=None, repr=False)
    status_code: int | None = None
    latency_ms: float | None = None
    attempts: int = 0
    error_kind: str = ""
    error_message: str = ""
    # Seconds the upstream asked us to wait (429/503), when it said, at most the policy's retry_after_max.
    retry_after: float | None = None
    body_bytes: int = 0  # decoded
    # A conditional request answered 304: ok, no payload (the caller has the document already).
    not_modified: bool = False
    # The validators the upstream sent with a 200 (empty when none, or unusable), for the next request.
    etag: str = ""
    last_modified: str = ""
    # Names the decoded body the payload was parsed from, with its Content-Type (which decides the
    # parse): equal digests, equal payloads. "" without a body (a 304). See metrics.extraction.parsed_from.
    body_digest: str = ""


@dataclass(frozen=True)
class _Answer:
    payload: dict[str, Any] | None
    status: int
    size: int = 0
    not_modified: bool = False
    etag: str = ""
    last_modified: str = ""
    body_digest: str = ""


def body_digest(body: bytes, content_type: str | None) -> str:
    """What ``FetchResult.body_digest`` holds: a SHA1 of the Content-Type and the decoded body."""
    digest = hashlib.sha1((content_type or "").encode("latin-1", "replace") + b"\0", usedforsecurity=False)
    digest.update(body)
    return digest.hexdigest()


class FetchFailure(Exception):
    """One attempt failed. ``retryable`` says whether another attempt may succeed."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        retryable: bool = False,
        status_code: int | None = None,
        retry_after: float | None = None,
        retry_after_capped: bool = False,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retryable = retryable
        self.status_code = status_code
        self.retry_after = retry_after
        self.retry_after_capped = retry_after_capped  # the upstream asked for longer than retry_after


# The error kind of a fetch that sent no request because the poller was stopping.
STOPPED = "stopped"


class RetryAfter(NamedTuple):
    seconds: float  # how long to wait: what the upstream asked for, at most the bound
    capped: bool  # it asked for longer than the bound


def parse_retry_after(value: str | None, now: datetime | None = None, *, longest: float) -> RetryAfter | None:
    """The wait a Retry-After header asks for (delta-seconds or an HTTP date), at most ``longest`` (finite)
    seconds; None when absent or junk."""
    if not value:
        return None
    value = value.strip()
    asked: int | float
    if value.isascii() and value.isdigit():  # not "²": str.isdigit() takes it and float() does not
        # Compared as a whole number: as a float, "9" * 400 is inf, and inf seconds from now overflows. More
        # digits than the bound has is more than the bound, which also spares int() a string of any length.
        digits = value.lstrip("0") or "0"
        if len(digits) > len(str(int(longest))):
            return RetryAfter(float(longest), True)
        asked = int(digits)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        asked = max(0.0, (when - (now or datetime.now(UTC))).total_seconds())  # at most year 9999: finite
    if asked > longest:
        return RetryAfter(float(longest), True)
    return RetryAfter(float(asked), False)


def prepared_get(url: str, headers: Mapping[str, str]) -> requests.PreparedRequest:
    """The GET the poller sends, prepared without ``Session.request``'s merging.

    ``session.get`` merges the session's cookies, headers, auth, hooks and environment into every
    request; the poller's sessions hold none of them (``trust_env`` is off, proxies and verification
    are passed explicitly), and that merging was a sixth of a poll's fetch. ``Session.send`` still
    sends it (tracing's instrumentation wraps it), so what goes out is what ``session.get`` sent,
    except that cookies an upstream set are never sent back: every poll is a fresh, cookie-less request.
    """
    request = requests.PreparedRequest()
    request.prepare_method("GET")
    request.prepare_url(url, None)
    # What a Session sends unless told otherwise, which the poller's own headers override.
    request.prepare_headers({"Connection": "keep-alive", **headers})
    request.prepare_body(None, None)
    # An empty jar of its own: no cookie goes out, and requests' redirect handling (``Session.send``
    # prepares the next hop of a 3xx even when it does not follow it) copies the request's jar.
    request.prepare_cookies(requests.cookies.RequestsCookieJar())
    return request


def validator(value: str | None) -> str:
    """A header value safe to send back as-is: short, printable ASCII, else nothing."""
    value = (value or "").strip()
    if not value or len(value) > MAX_VALIDATOR_LENGTH or not all(32 <= ord(c) < 127 for c in value):
        return ""
    return value


class Fetcher:
    """Thread-safe: each worker thread gets its own pooled session on first use."""

    def __init__(
        self,
        policy: FetchPolicy | None = None,
        rate_limiter: RateLimiter | None = None,
        stop: threading.Event | None = None,
        sleep: Callable[[float], bool] | None = None,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.policy = policy or FetchPolicy.from_settings()
        self.resolver = resolver
        self.allowlist = Allowlist(self.policy.allowed_private_hosts)
        self.rate_limiter = rate_limiter
        self.stop = stop or threading.Event()
        # Waits return True when the poller is stopping, so backoff never delays a shutdown.
        self._sleep = sleep or self.stop.wait
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()

    # --- sessions ----------------------------------------------------------------------------
    def session(self, transport: Transport = DEFAULT_TRANSPORT) -> requests.Session:
        """The calling thread's session for ``transport``'s TLS profile (one per profile: pools are per context)."""
        key = transport.tls_key() if transport.custom_tls else ""
        sessions: dict[str, requests.Session] | None = getattr(self._local, "sessions", None)
        if sessions is None:
            sessions = self._local.sessions = {}
        session = sessions.get(key)
        if session is None:
            session = self._new_session(transport)
            with self._sessions_lock:
                if len(sessions) >= MAX_TLS_PROFILES:
                    evicted = sessions.pop(next(iter(sessions)))
                    evicted.close()
                    self._sessions.remove(evicted)
                sessions[key] = session
                self._sessions.append(session)
        return session

    def _new_session(self, transport: Transport) -> requests.Session:
        session = requests.Session()
        session.trust_env = False  # proxies are chosen explicitly (pollers.transport), never picked up by accident
        context: Any = None
        if transport.custom_tls:
            try:
                context = ssl_context(transport, self.policy.ca_bundle)
            except TransportError as exc:
                raise FetchFailure(exc.kind, exc.message) from None
            session.verify = transport.verify
        else:
            session.verify = self.policy.ca_bundle or True
        adapter = PinnedAdapter(
            pool_connections=self.policy.pool_size,
            pool_maxsize=self.policy.pool_size,
            max_retries=0,
            ssl_context=context,
        )
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def close(self) -> None:
        with self._sessions_lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()
        self._local = threading.local()

    # --- the fetch ---------------------------------------------------------------------------
    def fetch(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        poll_id: str = "",
        *,
        transport: Transport | None = None,
    ) -> FetchResult:
        """GET ``url`` and parse a JSON object, with retries. Never raises for upstream trouble.

        ``headers`` may carry ``If-None-Match``/``If-Modified-Since``: a 304 then comes back ok
        with ``not_modified`` and no payload.
        """
        timeout = float(timeout or self.policy.read_timeout)
        transport = transport or DEFAULT_TRANSPORT
        started = time.monotonic()
        attempt = 0
        capped_told = False
        while True:
            attempt += 1
            failure: FetchFailure | None = None
            try:
                answer = self._attempt(url, headers or {}, timeout, transport)
            except FetchFailure as exc:
                # Kept detached: its traceback holds this frame, whose ``failure`` would hold the traceback, and so
                # does the traceback of the exception it was raised from (``raise ... from None`` keeps that one as
                # its context; its frames hold their callers, this one included). Either closes a cycle keeping
                # every frame of the attempt alive (a bomb's decoded megabyte, a body that is not JSON and its
                # decoded copy, the decoders, the response) until the cyclic collector runs, which the poller runs
                # rarely (devops_insights/collector.py). Detached, all of that is freed when this call returns.
                failure = detached(exc)
            except Exception as exc:
                # A bug or a library surprise: still a failed fetch the engine records, never an escape.
                # The exception's type only: its text might quote a header or URL.
                logger.error("poll %s: the fetch failed unexpectedly: %s", poll_id, type(exc).__name__)
                failure = FetchFailure("internal", f"the fetch failed unexpectedly ({type(exc).__name__})")
            if failure is not None:
                if failure.retry_after_capped and not capped_told:
                    capped_told = True  # once per poll, though each attempt may be answered the same
                    logger.info(
                        "poll %s: %s; its Retry-After is longer than POLLER_RETRY_AFTER_MAX, honoured for %gs only",
                        poll_id,
                        failure.message,
                        failure.retry_after,
                        extra={"poll_id": poll_id},
                    )
                delay = self._retry_delay(failure, attempt)
                if delay is None:
                    return FetchResult(
                        ok=False,
                        status_code=failure.status_code,
                        latency_ms=(time.monotonic() - started) * 1000,
                        attempts=attempt,
                        error_kind=failure.kind,
                        error_message=failure.message,
                        retry_after=failure.retry_after,
                    )
                logger.debug(
                    "poll %s attempt %d failed (%s), retrying in %.2fs",
                    poll_id,
                    attempt,
                    failure.kind,
                    delay,
                    extra={"poll_id": poll_id},
                )
                if delay > 0 and self._sleep(delay):
                    return FetchResult(
                        ok=False,
                        status_code=failure.status_code,
                        latency_ms=(time.monotonic() - started) * 1000,
                        attempts=attempt,
                        error_kind=failure.kind,
                        error_message=f"{failure.message} (not retried: shutting down)",
                        retry_after=failure.retry_after,
                    )
                continue
            return FetchResult(
                ok=True,
                payload=answer.payload,
                status_code=answer.status,
                latency_ms=(time.monotonic() - started) * 1000,
                attempts=attempt,
                body_bytes=answer.size,
                not_modified=answer.not_modified,
                etag=answer.etag,
                last_modified=answer.last_modified,
                body_digest=answer.body_digest,
            )

    def _retry_delay(self, failure: FetchFailure, attempt: int) -> float | None:
        """Seconds to wait before the next attempt, or None to give up."""
        if not failure.retryable or attempt > self.policy.retries or self.stop.is_set():
            return None
        if failure.retry_after is not None:
            if failure.retry_after > self.policy.backoff_max:
                return None  # longer than we wait inside one poll: the scheduler defers the next poll instead
            return failure.retry_after
        return self.policy.backoff(attempt)

    def _attempt(self, url: str, headers: Mapping[str, str], timeout: float, transport: Transport) -> _Answer:
        deadline = time.monotonic() + timeout
        request_headers = {
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            # Exactly the codings pollers.decoding can undo, whatever urllib3 would offer.
            "Accept-Encoding": ACCEPT_ENCODING,
            **headers,
        }
        conditional = any(name.lower() in CONDITIONAL_HEADERS for name in request_headers)
        current = url
        for _hop in range(self.policy.max_redirects + 1):
            target = self._check(current)
            response = self._send(target, request_headers, timeout, deadline, transport)
            try:
                if response.status_code in REDIRECT_STATUSES:
                    location = response.headers.get("Location")
                    if not location:
                        raise FetchFailure(
                            "bad_redirect", f"HTTP {response.status_code} without a Location", status_code=302
                        )
                    following = urljoin(current, location)
                    after = urlsplit(following)
                    downgraded = urlsplit(current).scheme.lower() == "https" and after.scheme.lower() == "http"
                    if after.hostname != target.host or downgraded:
                        # Like browsers and requests: credentials stay with the host they were meant for, and
                        # never follow https down to plain http, where anyone on the path reads them.
                        request_headers = {
                            k: v for k, v in request_headers.items() if not SECRET_HEADER_PATTERN.search(k)
                        }
                    current = following
                    continue
                if response.status_code == 304 and conditional:
                    return _Answer(None, 304, not_modified=True)
                return self._read(response, target, deadline)
            finally:
                response.close()
        raise FetchFailure("too_many_redirects", f"more than {self.policy.max_redirects} redirects")

    def _check(self, url: str) -> Target:
        # The rule that refuses such a URL at save (one stored before it, or written around it): the client
        # would percent-encode the character and fetch another URL than the one stored. Its message names the
        # character and its place, never the URL (whose query may hold a key).
        problem = url_problem(url)
        if problem is not None:
            raise FetchFailure("bad_url", problem, retryable=False)
        try:
            return resolve_target(url, self.allowlist, self.resolver)
        except UnsafeURLError as exc:
            # A DNS failure may be transient; a forbidden address is not going to improve on retry.
            raise FetchFailure(exc.kind, str(exc), retryable=exc.kind == "dns") from None

    def _send(
        self, target: Target, headers: Mapping[str, str], timeout: float, deadline: float, transport: Transport
    ) -> requests.Response:
        try:
            proxies = proxies_for(
                target.url,
                transport,
                global_proxy=self.policy.proxy,
                allowed=self.policy.allowed_proxies,
                trust_env=self.policy.trust_env_proxy,
            )
        except TransportError as exc:
            raise FetchFailure(exc.kind, exc.message) from None
        session = self.session(transport)
        if self.rate_limiter is not None and not acquire(
            self.rate_limiter, target.host, self.stop, timeout=max(0.0, deadline - time.monotonic())
        ):
            if self.stop.is_set():
                # The poller is stopping and no request went out: nothing is known of the upstream, so the
                # poll is not a failure of it (Poller skips it; see STOPPED).
                raise FetchFailure(STOPPED, "the poller stopped before a request slot came")
            raise FetchFailure("rate_limited", f"no request slot for {target.host} within the timeout", retryable=True)
        connect_timeout = min(self.policy.connect_timeout, timeout)
        read_timeout = min(self.policy.read_timeout, timeout)
        try:
            # Every address tried is one the guard checked; the next one only when a connection is refused.
            for index, address in enumerate(target.addresses):
                try:
                    return session.send(
                        prepared_get(target.pinned_url(address), {**headers, "Host": target.host_header}),
                        timeout=(connect_timeout, read_timeout),
                        allow_redirects=False,
                        stream=True,
                        proxies=proxies,
                        verify=session.verify,
                        cert=session.cert,
                    )
                except requests.exceptions.ConnectionError as exc:
                    last = index == len(target.addresses) - 1
                    if last or isinstance(
                        exc,
                        requests.exceptions.ConnectTimeout
                        | requests.exceptions.SSLError
                        | requests.exceptions.ProxyError,
                    ):
                        raise
            raise AssertionError("unreachable: resolve_target never returns an empty address list")
        except requests.exceptions.ProxyError:
            via = proxy_label(next(iter(proxies.values()), ""))
            raise FetchFailure(
                "proxy", f"the proxy {via} did not connect us to {target.host}", retryable=True
            ) from None
        except requests.exceptions.SSLError:
            raise FetchFailure("tls", f"TLS handshake with {target.host} failed") from None
        except requests.exceptions.ConnectTimeout:
            raise FetchFailure(
                "timeout", f"no connection to {target.host} within {connect_timeout:g}s", retryable=True
            ) from None
        except requests.exceptions.ReadTimeout:
            raise FetchFailure(
                "timeout", f"{target.host} sent no answer within {read_timeout:g}s", retryable=True
            ) from None
        except requests.exceptions.ConnectionError:
            raise FetchFailure("connect", f"cannot connect to {target.host}:{target.port}", retryable=True) from None
        except requests.exceptions.RequestException as exc:
            raise FetchFailure("request", f"request to {target.host} failed ({type(exc).__name__})") from None

    def _read(self, response: requests.Response, target: Target, deadline: float) -> _Answer:
        status = response.status_code
        if status == 429 or status >= 500:
            wait = parse_retry_after(response.headers.get("Retry-After"), longest=self.policy.retry_after_max)
            raise FetchFailure(
                f"http_{status}",
                f"{target.host} answered HTTP {status}",
                retryable=True,
                status_code=status,
                retry_after=wait.seconds if wait else None,
                retry_after_capped=bool(wait and wait.capped),
            )
        if not 200 <= status < 300:
            raise FetchFailure(f"http_{status}", f"{target.host} answered HTTP {status}", status_code=status)

        limit = self.policy.max_body_bytes
        try:
            pipeline = Pipeline.for_header(response.headers.get("Content-Encoding"))
        except DecodingError as exc:
            raise FetchFailure(exc.kind, exc.message, status_code=status) from None
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > limit:
            # Content-Length counts the bytes on the wire; those are capped too (see below).
            raise FetchFailure(
                "too_large", f"the body is {int(declared)} bytes, more than the {limit} allowed", status_code=status
            )
        body = bytearray()
        wire = 0

        def take(pieces: Any) -> None:
            nonlocal body
            for piece in pieces:
                body += piece
                if len(body) > limit:
                    # Decoded bytes: a small compressed body that inflates past the limit ends here,
                    # after one bounded piece, not after inflating all of it.
                    raise FetchFailure(
                        "too_large", f"the decoded body exceeds the {limit} bytes allowed", status_code=status
                    )

        try:
            while True:
                # read1 returns whatever one socket read brings: the deadline is checked between
                # reads, so a server dripping a byte at a time cannot hold the poll past it.
                chunk = response.raw.read1(READ_CHUNK, decode_content=False)
                if not chunk:
                    break
                wire += len(chunk)
                if wire > limit:
                    # No real JSON compresses to more than itself: a long stream that decodes to little
                    # (empty blocks, skippable frames) is cut here rather than at the deadline.
                    raise FetchFailure("too_large", f"the body exceeds the {limit} bytes allowed", status_code=status)
                take(pipeline.feed(chunk))
                if time.monotonic() > deadline:
                    raise FetchFailure(
                        "slow_body",
                        f"the body was still arriving when the {target.host} deadline passed",
                        retryable=True,
                        status_code=status,
                    )
            if declared and declared.isdigit() and wire < int(declared):
                raise FetchFailure("truncated", f"got {wire} of {declared} bytes", status_code=status)
            take(pipeline.finish())
        except (ProtocolError, requests.exceptions.ChunkedEncodingError):
            raise FetchFailure(
                "truncated", "the connection closed before the body was complete", status_code=status
            ) from None
        except (TimeoutError, ReadTimeoutError, requests.exceptions.ReadTimeout):
            raise FetchFailure(
                "timeout", f"{target.host} stopped sending the body", retryable=True, status_code=status
            ) from None
        except DecodingError as exc:
            raise FetchFailure(exc.kind, exc.message, status_code=status) from None
        except DecodeError:
            raise FetchFailure(
                "bad_encoding", "the body does not match its Content-Encoding", status_code=status
            ) from None
        content_type = response.headers.get("Content-Type")
        decoded = bytes(body)
        try:
            document = parse_object(decoded, content_type, self.policy.max_json_depth)
        except BodyError as exc:
            raise FetchFailure(exc.kind, exc.message, status_code=status) from None
        return _Answer(
            document,
            status,
            len(body),
            etag=validator(response.headers.get("ETag")),
            last_modified=validator(response.headers.get("Last-Modified")),
            body_digest=body_digest(decoded, content_type),
        )
