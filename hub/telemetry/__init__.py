"""Readings off the ingest path: the InfluxDB ``writer``, the console's bounded reading
``history``, and ``metrics`` (``GET /metrics``).
"""
