# syntax=docker/dockerfile:1
ARG PYTHON_VERSION=3.11
# The hash-pinned lock (make lock): every download must match a hash recorded there.
ARG REQUIREMENTS=requirements/base.lock

# --- build: compile wheels once, so the runtime image carries no compiler
FROM python:${PYTHON_VERSION}-slim AS build
ARG REQUIREMENTS
WORKDIR /src
COPY requirements/ requirements/
RUN pip wheel --no-cache-dir --require-hashes --wheel-dir /wheels -r ${REQUIREMENTS}

# --- runtime
FROM python:${PYTHON_VERSION}-slim
ARG REQUIREMENTS
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 VAR_DIR=/var/lib/devops-insights DJANGO_DEBUG=false
# A fixed numeric uid/gid: Kubernetes' runAsNonRoot can verify it, and volume ownership is predictable.
RUN groupadd --gid 10001 app \
    && useradd --create-home --uid 10001 --gid 10001 app \
    && mkdir -p /var/lib/devops-insights/archive \
    && chown -R 10001:10001 /var/lib/devops-insights
WORKDIR /app
COPY --from=build /wheels /wheels
COPY requirements/ requirements/
# Every locked package ships a wheel, so the files in /wheels are the ones hashed in the lock: checked again here.
RUN pip install --no-cache-dir --no-index --find-links /wheels --require-hashes -r ${REQUIREMENTS} && rm -rf /wheels
COPY --chown=10001:10001 . .
# collectstatic needs settings that pass the production checks; the real values come at run time.
RUN DJANGO_SECRET_KEY=build-only-build-only-build-only-build-only-build-only \
    DJANGO_ALLOWED_HOSTS=build python manage.py collectstatic --noinput
USER 10001:10001
# 8000: daphne (HTTP + WebSocket, /metrics); 9100: the poller's metrics server (POLLER_METRICS_PORT).
EXPOSE 8000 9100
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/api/v1/health', timeout=4).status == 200 else 1)"]
# daphne's own access log prints query strings (tokens too): the project's (observability/access_log.py) replaces it.
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "--proxy-headers", "--access-log", "/dev/null", "devops_insights.asgi:application"]
