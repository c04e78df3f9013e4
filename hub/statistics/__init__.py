"""Statistics up the chain: each level's figures over a period, by district, street, community,
grid or category, and the cases that climbed. ``rules`` (pure), ``repository``, ``routes``
(``/api/v1/statistics``).
"""
