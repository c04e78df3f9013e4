"""The live event stream: the in-process event bus and ``GET /api/v1/stream``."""
