"""Door access: who may open which door when, the allow-lists each edge holds, the access log.

``rules`` (pure: what an edge's allow-list must hold, reader conflicts, the bulk import's
checks), the repositories ``sites`` (sites and doors), ``groups`` (schedules and groups),
``people`` (people, credentials, the bulk import), ``versions`` (the allow-list versions:
``resync`` and what an edge lacks), ``log`` (the access log), with ``repository.AccessStore``
holding them over one database; ``views`` and ``bodies`` (what the API shows and accepts),
``routes`` (``/api/v1/access``), ``link`` (MQTT: allow-lists out, access logs in).
"""
