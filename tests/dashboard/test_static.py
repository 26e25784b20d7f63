"""Static files outside debug: collectstatic with WhiteNoise's compressed, hashed storage, vendored uPlot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)


@pytest.mark.slow
def test_it_collects_compressed_hashed_static_files_when_not_in_debug(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    env.update(
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="collectstatic-test-" + "k3y-" * 12,
        DJANGO_ALLOWED_HOSTS="insights.example.com",
        VAR_DIR=str(tmp_path),
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = json.loads((tmp_path / "staticfiles" / "staticfiles.json").read_text())["paths"]
    for name in ("css/app.css", "js/live.js", "js/overview.js", "js/source.js", "vendor/uplot/uPlot.iife.min.js"):
        hashed = manifest[name]
        assert hashed != name
        assert (tmp_path / "staticfiles" / hashed).is_file()
        assert (tmp_path / "staticfiles" / (hashed + ".gz")).is_file()


def test_it_vendors_uplot_with_its_licence_and_version() -> None:
    vendor = ROOT / "static" / "vendor" / "uplot"
    assert "The MIT License" in (vendor / "LICENSE").read_text()
    assert "uplot@1.6.32" in (vendor / "VERSION.md").read_text()
    script = (vendor / "uPlot.iife.min.js").read_text()
    assert script.startswith("/*! https://github.com/leeoniya/uPlot (v1.6.32) */")
    # No page pulls anything from a CDN: every script and stylesheet is ours.
    for template in (ROOT / "templates").rglob("*.html"):
        html = template.read_text()
        assert "https://" not in html, template
        assert "http://" not in html, template
