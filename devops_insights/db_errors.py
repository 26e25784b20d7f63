"""What a database error means to the code that handles it: one home for telling a busy pool from a dropped
connection.

With PostgreSQL's bounded pool (``DATABASE_POOL_MAX_SIZE``) a request that finds no free connection within
``DATABASE_POOL_TIMEOUT`` gets psycopg's ``PoolTimeout``, which Django raises wrapped as ``OperationalError``
(the original as ``__cause__``). That is *busy*, not *dropped*: the connection was never made, so retrying at
once only waits the same timeout again, and a public page answers it with a short 503 instead.
"""

from __future__ import annotations

from psycopg_pool import PoolTimeout

# Seconds a busy answer (a 503: the pool, the admission queue, a cold status page) asks the client to wait
# in Retry-After: one value, so every busy answer of the product says the same.
BUSY_RETRY_AFTER_SECONDS = 5


def pool_timed_out(error: BaseException) -> bool:
    """Whether ``error`` is the pool's refusal to lend a connection in time (as psycopg's or wrapped by Django)."""
    return isinstance(error, PoolTimeout) or isinstance(error.__cause__, PoolTimeout)
