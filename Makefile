# The two commands that matter: `make run` and `make test`. Both build on `make install`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PACKAGES := devops_insights accounts metrics pollers realtime dashboard api alerts observability

.PHONY: install run test lint format typecheck migrations-check security bench deploy-check clean

install: $(STAMP)

# Reinstall only when a requirements file changed, so a second `make run` starts in seconds.
$(STAMP): requirements/base.txt requirements/dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements/dev.txt
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

clean:
	rm -rf $(VENV) var test-artifacts
