"""The tamper-evident trail: a hash chain over every alert, decision and human action.

``chain`` (pure: hashing and verifying), ``repository`` (reading and verifying the stored
chain), ``routes`` (``/api/v1/audit``), ``views``. Appending happens inside every writing
transaction (``hub.persistence.transactions``).
"""
