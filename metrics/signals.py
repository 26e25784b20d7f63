"""Signals the metric store's wrapper sends; dashboards listen (metrics knows nothing above it).

``store_availability_changed``: sent with ``sender=InstrumentedStore`` and the keyword argument ``available``
(bool) when a store call in this process failed (``StoreError``) after the last one succeeded
(``available=False``), or succeeded after the last one failed (``available=True``): once per transition in
each process, never per call. Sent with ``send_robust``: a receiver's exception never reaches the store's caller.
"""

from __future__ import annotations

from django.dispatch import Signal

store_availability_changed = Signal()
