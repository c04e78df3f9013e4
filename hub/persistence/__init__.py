"""What every repository shares: the tables (``tables``), the engine and migrations
(``engine``), and the transaction helpers (``transactions``: reading and writing sessions,
the clock, the dialect's upsert, the audit append).
"""
