"""Fixtures of the provisioning tests: an encryption key and loopback sources allowed (the demo's URLs).

The services, the simulator and the fresh cache come from tests/conftest.py; sources, rules, channels, users,
teams and tokens from tests/factories.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet


@pytest.fixture
def setup_settings(settings: Any) -> Any:
    """Secrets can be stored (a Fernet key) and sources may point at loopback, as under `make run`."""
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    settings.POLLER_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1"]
    return settings
