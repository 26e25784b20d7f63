"""Named locks between processes, in a table of the default database: the retention lock (maintenance).

Each step is one conditional statement, so none acts on a lock that changed hands after it looked: taking an
expired lock is an ``UPDATE ... WHERE expires_at <= now`` (on PostgreSQL a second taker waits for the first's
row lock, then finds the row no longer expired; SQLite runs one writer at a time), a free one an ``INSERT``
that the primary key lets through once; renewing is ``UPDATE ... WHERE holder = mine`` and releasing
``DELETE ... WHERE holder = mine``, whose row counts say whether the lock was still this holder's. A cache
could not do that in every mode: Django's database cache lets two processes ``add`` over the same expired
row, and a check followed by ``touch`` or ``delete`` acts on whoever holds the lock by then. The table is on
the relational database every mode has (with or without Redis, beside a MongoDB metric store).

Expiry is the database's clock (``devops_insights.db_clock``), written and compared in SQL: a process whose host
clock runs ahead neither takes a lock before it expired nor writes an expiry that other hosts read as later.
"""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Now

from devops_insights.db_clock import database_now_plus


class LockQuerySet(models.QuerySet["Lock"]):
    def take(self, name: str, holder: str, seconds: float) -> bool:
        """Take ``name`` for ``holder`` (a value no other taker uses) for ``seconds``: True when taken, False
        while another holder's lock has not expired."""
        expires_at = database_now_plus(seconds)
        if self.filter(name=name, expires_at__lte=Now()).update(holder=holder, expires_at=expires_at):
            return True
        # No row, or one not yet expired: an insert that a row already there (another's) turns into nothing
        # (ON CONFLICT DO NOTHING: no error for the server's log each time a lock is found held).
        self.bulk_create([Lock(name=name, holder=holder, expires_at=expires_at)], ignore_conflicts=True)
        return self.filter(name=name, holder=holder).exists()

    def renew(self, name: str, holder: str, seconds: float) -> bool:
        """Extend ``holder``'s lock to ``seconds`` from now: False when it is no longer theirs (taken by
        another after it expired, or released), and then nothing changes."""
        return self.filter(name=name, holder=holder).update(expires_at=database_now_plus(seconds)) == 1

    def release(self, name: str, holder: str) -> bool:
        """Release ``holder``'s lock: False when it was no longer theirs, and then another's stays."""
        deleted, _ = self.filter(name=name, holder=holder).delete()
        return deleted == 1


class Lock(models.Model):
    name = models.CharField(max_length=100, primary_key=True)
    holder = models.CharField(max_length=64)
    expires_at = models.DateTimeField()

    objects = LockQuerySet.as_manager()

    class Meta:
        verbose_name = "lock"

    def __str__(self) -> str:
        return f"{self.name} (until {self.expires_at:%Y-%m-%d %H:%M:%S})"
