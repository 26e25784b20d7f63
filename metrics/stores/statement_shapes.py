"""Rows cut into runs of 1, 2, 4, 8 ... so a multi-row statement's text comes in a few shapes only.

Why: a multi-row ``INSERT ... VALUES (...), (...)`` has one SQL text per row count. SQLite's driver keeps
the last 128 prepared statements of each connection, keyed by their text, each holding a program as
large as its text (on PostgreSQL Django binds parameters on the client, so nothing is kept). The upsert of a
health batch's availability cells had a new text for nearly every flush (its row count follows how many
polls the batch holds): on SQLite each was prepared afresh and up to 128 were kept, the largest ones
winning, which grew a poller's resident memory by about 2 MiB per 1,000 polls until the cache was full of
them (bench/memory.py, with the SQLite statement memory read off the connection). Cut into power-of-two
runs, a statement of at most ``largest`` rows has at most log2(largest) + 1 texts, each prepared once and
reused, at the price of a few statements per flush instead of one.

Only for statements whose rows are independent (inserts, upserts): every row lands in exactly one run.
A changed poll's metric samples stay one INSERT: their count follows the kind of source, not the poll,
so they have few texts already, and the changed poll is the path to keep short.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")


def power_of_two_runs(rows: Sequence[T], largest: int) -> Iterator[Sequence[T]]:
    """``rows`` in order, cut into runs whose lengths are powers of two, none longer than ``largest``.

    Greedy from the front: the longest run that fits, so ``n`` rows take about log2(n) statements
    (37 rows: 32, 4, 1) and a multiple of ``largest`` takes only full runs.
    """
    if largest < 1 or largest & (largest - 1):
        raise ValueError(f"largest must be a power of two, got {largest}")
    at = 0
    while at < len(rows):
        size = min(largest, 1 << ((len(rows) - at).bit_length() - 1))
        yield rows[at : at + size]
        at += size
