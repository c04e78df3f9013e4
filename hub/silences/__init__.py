"""Silences: maintenance windows and fire drills during which alerts are recorded but open
no case. ``rules`` (pure), ``repository``, ``routes``, ``views``.
"""
