"""Results history (issue 26): every bundle indexed in SQLite, trends per kernel and commit, the
newest run checked against its past. The bundles stay the source of truth; the index is a cache
that ``make vllm-history REINDEX=1`` rebuilds from them.

- ``records``: one bundle's files -> a typed row (pure reading).
- ``index``: the SQLite file beside the results (WAL, safe under concurrent writers).
- ``stats``: the newest run against its history, change points (pure functions).
- ``report``: the table, trend plots, HTML/Markdown, CSV/JSON export.
- ``cli``: ``vllm-workflow history`` and ``history-check``.
"""
