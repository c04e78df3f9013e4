"""Sites, grids and responders: ``rules`` (pure), ``repository``, ``routes``
(``/api/v1/sites`` …) and ``file`` (the roster file applied at start).
"""
