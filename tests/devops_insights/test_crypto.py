"""devops_insights.crypto: secrets at rest with a ring of Fernet keys (first encrypts, all decrypt), and
FIELD_ENCRYPTION_KEY read with an error that names the key's position, never the key."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet

from devops_insights import config, crypto

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()


def test_it_round_trips_and_rotates_to_the_first_key(settings: Any) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    token = crypto.encrypt("json://user:hunter2@example.com/x")
    assert "hunter2" not in token
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    assert crypto.decrypt(token) == "json://user:hunter2@example.com/x"
    rotated = crypto.rotate(token)
    settings.FIELD_ENCRYPTION_KEYS = [NEW]
    assert crypto.decrypt(rotated) == "json://user:hunter2@example.com/x"
    with pytest.raises(crypto.SecretUnavailable):
        crypto.decrypt(token)  # only the old key could read it


def test_it_refuses_without_a_key(settings: Any) -> None:
    settings.FIELD_ENCRYPTION_KEYS = []
    assert not crypto.keys_configured()
    with pytest.raises(crypto.SecretUnavailable, match="FIELD_ENCRYPTION_KEY"):
        crypto.encrypt("secret")


def test_it_reads_keys_from_the_environment_or_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("FIELD_ENCRYPTION_KEY", f"{NEW}, {OLD}")
    assert config.fernet_keys("FIELD_ENCRYPTION_KEY") == [NEW, OLD]
    monkeypatch.delenv("FIELD_ENCRYPTION_KEY")
    keys = tmp_path / "keys"
    keys.write_text(f"{NEW}\n{OLD}\n")
    monkeypatch.setenv("FIELD_ENCRYPTION_KEY_FILE", str(keys))
    assert config.fernet_keys("FIELD_ENCRYPTION_KEY") == [NEW, OLD]


def test_it_names_a_bad_keys_position_never_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIELD_ENCRYPTION_KEY", f"{NEW},not-a-key-TOPSECRET")
    with pytest.raises(config.ConfigError) as caught:
        config.fernet_keys("FIELD_ENCRYPTION_KEY")
    assert "key 2 of 2" in str(caught.value)
    assert "TOPSECRET" not in str(caught.value)
    monkeypatch.setenv("FIELD_ENCRYPTION_KEY", f"{NEW},{NEW}")
    with pytest.raises(config.ConfigError, match="twice"):
        config.fernet_keys("FIELD_ENCRYPTION_KEY")
