"""Door access control at the edge: decide offline, unlock, watch the door, log everything.

- ``decision``: the pure access decision (allow-list entry, door, time, anti-passback state);
- ``door``: the pure door monitor state machine (forced, held open with a pre-warning,
  denied bursts);
- ``store``: the durable SQLite allow-list, door states and access-log outbox;
- ``control``: the asyncio shell the edge agent runs (reader frames in, unlock commands out,
  allow-list sync and access log with the hub).
"""
