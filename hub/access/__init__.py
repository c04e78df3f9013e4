"""Door access: who may open which door when, the allow-lists each edge holds, the access log.

``rules`` (pure: what an edge's allow-list must hold), ``repository`` (people, groups,
schedules, credentials, sync queue, log), ``routes`` (``/api/v1/access``), ``link`` (MQTT:
allow-lists out, access logs in).
"""
