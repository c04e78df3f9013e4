"""The Linli edge agent: reads devices on the local broker, detects, stores and forwards alerts.

Modules, from pure to I/O:

- ``detection``: per-device rules, a pure function of (state, device, observation, time);
- ``directory``: which device a message came from (site file plus hub-pushed registry);
- ``outbox``: the durable SQLite store-and-forward queue;
- ``agent``: the asyncio shell that wires brokers, detection and the outbox together;
- ``settings``: ``EdgeSettings``, built by the caller, never at import.
"""
