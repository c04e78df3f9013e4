"""Devices and edges: registrations, each edge's last status, each device's last readings.
``repository``, ``routes`` (``/api/v1/devices``, ``/api/v1/edges``), ``views``.
"""
