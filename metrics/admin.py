from __future__ import annotations

# The admin of the data lifecycle's model lives with it; importing it registers it.
from metrics.lifecycle import admin as lifecycle_admin  # noqa: F401
