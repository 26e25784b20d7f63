"""Secret references in configuration files: ``${ENV_NAME}`` or ``{file: /run/secrets/x}``, never values.

A reference is resolved when a plan is made (a missing one is a problem then, so an apply cannot fail
half-way for it) and its value goes only into the model; plans, exports, logs and the audit trail show
the reference or a mask. Export writes a placeholder reference for every stored secret
(``${SOURCE_US_EAST_AUTH_SECRET}``): whoever applies the export provides that variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REDACTED = "(secret)"
MAX_FILE_BYTES = 64 * 1024
_ENV = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_NOT_NAME = re.compile(r"[^A-Z0-9]+")

# The JSON Schema of a reference, for editors (provisioning.schema).
REFERENCE_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {"type": "string", "pattern": r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$", "description": "${ENV_NAME}"},
        {
            "type": "object",
            "properties": {"file": {"type": "string", "minLength": 1}},
            "required": ["file"],
            "additionalProperties": False,
            "description": "{file: /run/secrets/name}",
        },
    ]
}


@dataclass(frozen=True)
class Reference:
    env: str = ""
    file: str = ""

    def __str__(self) -> str:
        return f"${{{self.env}}}" if self.env else f"{{file: {self.file}}}"

    def written(self) -> Any:
        """How the reference is written in a file."""
        return f"${{{self.env}}}" if self.env else {"file": self.file}


class SecretProblem(ValueError):
    pass


def parse(value: Any) -> Reference:
    """The reference ``value`` writes, or SecretProblem saying what a reference looks like."""
    if isinstance(value, str):
        match = _ENV.match(value)
        if match:
            return Reference(env=match.group(1))
    elif isinstance(value, dict) and set(value) == {"file"} and isinstance(value["file"], str) and value["file"]:
        return Reference(file=value["file"])
    raise SecretProblem("must be a secret reference, ${ENV_NAME} or {file: /path}: secrets are never written in files")


def is_reference(value: Any) -> bool:
    try:
        parse(value)
    except SecretProblem:
        return False
    return True


def resolve(reference: Reference, environ: Mapping[str, str] | None = None) -> str:
    """The secret's value; SecretProblem naming the reference (never a value) when it is missing."""
    if reference.env:
        env = os.environ if environ is None else environ
        if reference.env not in env:
            raise SecretProblem(f"the environment variable {reference.env} is not set")
        return env[reference.env]
    path = Path(reference.file)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise SecretProblem(f"the secret file {reference.file} is larger than {MAX_FILE_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretProblem(f"cannot read the secret file {reference.file}: {type(exc).__name__}") from None
    # A secret file written by `echo` or an editor ends with a newline that is not part of the secret.
    return text[:-1] if text.endswith("\n") else text


def placeholder(*parts: str) -> str:
    """The reference export writes for a stored secret: ``${SOURCE_US_EAST_AUTH_SECRET}``."""
    name = "_".join(_NOT_NAME.sub("_", part.upper()).strip("_") for part in parts if part)
    return f"${{{name}}}"
