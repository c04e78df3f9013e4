"""The Linli hub: ingests alerts from edges, opens and tracks cases, serves the operator API.

Entry points: ``hub.app.create_app(settings)`` for an isolated ASGI app and
``hub.service.serve(settings)`` to run it (HTTP + MQTT ingest) in the current event loop.
"""
