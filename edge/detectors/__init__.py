"""The standards-based detectors, one module per concept; ``edge.detection`` composes them.

Each module is pure: a small frozen state, a function of (state, reading, event time) that
returns the next state and a verdict. None of them knows about alerts or persistence.
"""

CLOCK_JUMP_S = 300.0
"""A reading older than the newest a detector has by more than this is a device clock set back
(after it ran ahead: one reading stamped a day in the future), not a late copy of one: the
detector restarts from it, or it would drop every reading until that future time."""
