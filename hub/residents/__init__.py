"""Residents: households, their one-touch SOS page (``page``, ``/r/<token>``) and the
households API (``routes``); ``rules`` is the pure part (tokens, stages, press throttle).
"""
