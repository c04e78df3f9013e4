"""Camera evidence from the edges: ``link`` (MQTT in, acks out), ``repository`` (pictures on
disk by SHA-256, their rows), ``routes`` (``/api/v1/evidence``).
"""
