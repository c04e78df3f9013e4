"""Camera analytics at the edge: capture, per-camera analytics, alert rules, evidence.

- ``capture``: frames from RTSP/HTTP URLs, files and USB devices (``cv2.VideoCapture``),
  sampled to the detection rate by the frames' own timestamps;
- ``analytics``: what one frame shows (motion, people, static objects, fire and smoke cues,
  tamper), measured on numpy frames, with the little history each cue needs;
- ``rules``: raise/clear/cooldown per (alert kind, zone) as one explicit state machine;
- ``pipeline``: analytics + rules for one camera, frame by frame (no I/O, no clock);
- ``evidence``: JPEG snapshots (clean and annotated) and their disk spool;
- ``service``: the asyncio side in the edge agent: worker threads, the outbox, the uplink.
"""
