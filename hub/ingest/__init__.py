"""The MQTT link with the edges: uplink messages in (``uplink`` parses them, ``link`` stores
them and acknowledges), device registries and case feedback (``feedback``) out.
"""
