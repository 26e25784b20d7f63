"""The data lifecycle of metrics: how long each tier is kept and what happens to it after.

- ``models``: ``RetentionPolicy`` (global default and per-source overrides) and ``Retention``;
- ``retention``: roll up, archive, prune, per source (``manage.py prune``);
- ``maintenance``: the poll loop's periodic retention step (one poller at a time);
- ``locks``: ``Lock``, the table that lock is kept in (take, renew, release, each one statement);
- ``archive``: the verified gzip NDJSON files of pruned raw snapshots;
- ``records`` and ``transfer``: the NDJSON record format, ``export_metrics`` / ``import_metrics``;
- ``ttl``: the MongoDB history TTL index that follows the policies;
- ``receivers``: a saved policy moves that TTL at once; ``admin``: the policies in the admin.
"""
