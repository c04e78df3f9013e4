"""A device's wired inputs read as states: a pull cord or a latching SOS switch on a Shelly
input in switch mode (Gen1 ``input/<n>`` ``0``/``1``, Gen2+ ``input:<n>`` ``state``).

Such an input says *on* or *off*, again and again (a Gen1 Shelly re-publishes every 30 s),
never "pressed". What this module decides, per input of one device:

- **off → on is one press.** The same state again is nothing; on → off (the cord reset) is
  nothing either: the case stays with its operator.
- **On at the first sighting** (nothing remembered of the input: a new device, a new edge)
  is a press too, marked ``first-sighting``: a cord already pulled when the edge began to
  listen is someone who needs help until an operator has looked. A nuisance is closed as one.
- **An input that also sends push events is momentary**, and its state is not read as
  presses. A Gen1 Shelly reports its input's terminal in every mode, so a button in
  momentary mode sends both ``input/0 = 1`` and ``input_event/0 {"event": "S"}`` for one push.
  The MQTT stream does not say which mode an input is in: the first push event of an input
  marks it momentary. That first push may already have been raised from the state (the state
  comes at the push, the event after the release); an event within ``SAME_PUSH_S`` of that
  raise is the same push and is not raised again.

A toggle wall switch (each flip a press, either way) is not supported: off → on only.
Pure: the functions return the next memory and the verdict.
"""

from dataclasses import dataclass, replace
from datetime import datetime

SAME_PUSH_S = 5.0
"""How long after a press raised from an input's state its push event may still come."""

RULE_INPUT_ON = "input_on"
RULE_FIRST_SIGHTING = "first-sighting"


@dataclass(frozen=True, slots=True)
class InputMemory:
    """What one device's inputs remember (persisted with the device's state)."""

    states: tuple[tuple[str, bool], ...] = ()
    """Per input, its last state (True: on)."""
    momentary: frozenset[str] = frozenset()
    """The inputs seen sending push events: their states are not presses."""
    raised: tuple[tuple[str, datetime], ...] = ()
    """Per input, the event time of the last press raised from its state."""


@dataclass(frozen=True, slots=True)
class InputPressed:
    """The input went on: a press. ``first_sighting``: it was on when first seen."""

    input: str
    first_sighting: bool


def input_changed(
    memory: InputMemory, name: str, on: bool, at: datetime
) -> tuple[InputMemory, InputPressed | None]:
    """Return the memory after input ``name`` reported ``on`` at ``at``, and the press if any."""
    states = dict(memory.states)
    was = states.get(name)
    states[name] = on
    memory = replace(memory, states=tuple(sorted(states.items())))
    if not on or was is True or name in memory.momentary:
        return memory, None
    raised = dict(memory.raised)
    raised[name] = at
    return replace(memory, raised=tuple(sorted(raised.items()))), InputPressed(name, was is None)


def push_event(memory: InputMemory, name: str, at: datetime) -> tuple[InputMemory, bool]:
    """Record that input ``name`` sent a push event at ``at`` (it is momentary).

    Return the new memory and whether the event is the push a state change of the input
    already raised (and is therefore not a press of its own).
    """
    raised = dict(memory.raised)
    since = raised.pop(name, None)
    same = (
        name not in memory.momentary
        and since is not None
        and 0 <= (at - since).total_seconds() <= SAME_PUSH_S
    )
    memory = replace(
        memory, momentary=memory.momentary | {name}, raised=tuple(sorted(raised.items()))
    )
    return memory, same
