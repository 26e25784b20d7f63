# The two commands that matter: `make run` and `make test`. Both build on `make install`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PACKAGES := devops_insights accounts metrics pollers objectives realtime alerts statuspages boards provisioning dashboard api observability

.PHONY: install run test lint format typecheck migrations-check security bench deploy-check lock sbom audit clean

install: $(STAMP)

# Reinstall only when a lock file changed, so a second `make run` starts in seconds. The lock pins every
# package with its hashes (make lock); pip refuses any download whose hash is not in it.
$(STAMP): requirements/base.lock requirements/dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.lock
	touch $(STAMP)

run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py runstack

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: install
	$(BIN)/mypy $(PACKAGES)

migrations-check: install
	$(BIN)/python manage.py makemigrations --check --dry-run

# Static security analysis: any high-severity finding fails (CI runs this too).
security: install
	$(BIN)/bandit -q -r $(PACKAGES) -x '*/migrations/*' --severity-level high

bench: install
	$(BIN)/python bench/run.py

# Dockerfile lint and Kubernetes schema validation (also run by `make test`: tests/devops_insights/test_deployment.py).
K8S_VERSION := $(shell cat deploy/kubernetes/.kubernetes-version)
deploy-check: install
	$(BIN)/hadolint Dockerfile
	$(BIN)/kubernetes-validate --strict --quiet -k $(K8S_VERSION) \
		$(filter-out %/kustomization.yaml,$(wildcard deploy/kubernetes/*.yaml))

# --- Supply chain (docs/supply-chain.md)
# Lock against the package index alone: pip config files and PIP_FIND_LINKS/PIP_EXTRA_INDEX_URL may
# add local indexes and wheel folders whose paths and files must not end up in the lock. PIP_INDEX_URL
# (a mirror of the index) is still honoured. `make lock LOCK_ARGS=--upgrade` moves every pin forward.
LOCK_ENV := PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS= PIP_EXTRA_INDEX_URL= PIP_CONSTRAINT= CUSTOM_COMPILE_COMMAND="make lock"
PIP_COMPILE := $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links $(LOCK_ARGS)
lock: install
	$(LOCK_ENV) $(PIP_COMPILE) --output-file requirements/base.lock requirements/base.txt
	$(LOCK_ENV) $(PIP_COMPILE) --constraint requirements/base.lock --output-file requirements/dev.lock requirements/dev.txt

# CycloneDX SBOM of the runtime dependencies, read from the lock (no network, same lock -> same bytes).
SBOM := var/sbom.cdx.json
sbom: install
	mkdir -p $(dir $(SBOM))
	PYTHONWARNINGS=ignore::UserWarning $(BIN)/cyclonedx-py requirements requirements/base.lock \
		--pyproject pyproject.toml --sv 1.6 --of JSON --output-reproducible -o $(SBOM)

# Known vulnerabilities in the locked packages (dev.lock holds base.lock's pins too). The command exits
# 0 clean, 1 vulnerable, 2 failed, 3 database unreachable or silent (make itself reports any failure as 2).
AUDIT_LOCKS := requirements/dev.lock
audit: install
	$(BIN)/python -m devops_insights.dependency_audit $(AUDIT_ARGS) $(AUDIT_LOCKS)

clean:
	rm -rf $(VENV) var test-artifacts
