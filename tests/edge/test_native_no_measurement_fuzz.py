"""Fuzzing native state payloads with numbers that are not finite in random measurements.

Whatever else the message holds, decoding raises nothing but ``PayloadError``; a number that is
not finite never reaches the readings; and a message whose measurements are all such numbers
never becomes an alarm, however long detection runs on it (an infinite CO level was once the
dose model's highest one)."""

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from devices.adapters import decode
from devices.errors import PayloadError
from devices.kinds import AlertKind, AlertState, DeviceKind
from devices.observations import StateUpdate
from devices.payloads import MEASUREMENTS, Readings, StatePayload
from tests.edge.detection_series import feed, ticked

FUZZ = settings(max_examples=1_000, deadline=None, database=None)
"""As the fuzz profile `test` (``tests/fuzz/conftest.py``): nothing written beside the checkout."""

TOPIC = "linli/dev/b3-co/state"
NOT_FINITE = st.sampled_from(
    ["1e999", "-1e999", "1e400", "1E+309", "-1e309", "Infinity", "-Infinity", "NaN"]
)
"""JSON texts of numbers that are not finite, as Python's parser reads them."""
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
FIELDS = sorted({*StatePayload.model_fields, "firmware"})
ALARMS = {AlertKind.SMOKE, AlertKind.CO, AlertKind.GAS, AlertKind.HEAT, AlertKind.WATER_LEAK}


def _with_numbers(rest: dict[str, Any], numbers: dict[str, str]) -> bytes:
    """Return the JSON text of ``rest`` with ``numbers`` (name → JSON number text) added."""
    parts = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in rest.items() if k not in numbers]
    parts += [f"{json.dumps(k)}: {v}" for k, v in numbers.items()]
    return ("{" + ", ".join(parts) + "}").encode()


def _decoded(payload: bytes) -> Readings | None:
    """Return the readings of a native state, None if refused; nothing else may escape."""
    try:
        decoded = decode(TOPIC, payload)
    except PayloadError:
        return None
    assert decoded is not None
    [update] = decoded.observations
    assert isinstance(update, StateUpdate)
    return update.readings


@FUZZ
@given(
    st.dictionaries(st.sampled_from(FIELDS), SCALARS, max_size=8),
    st.dictionaries(st.sampled_from(sorted(MEASUREMENTS)), NOT_FINITE, min_size=1),
)
def test_a_number_that_is_not_finite_is_dropped_or_the_message_refused(
    rest: dict[str, Any], numbers: dict[str, str]
) -> None:
    readings = _decoded(_with_numbers(rest, numbers))
    if readings is None:
        return
    for name in numbers:
        assert getattr(readings, name) is None
    for name, value in readings.present().items():
        assert not isinstance(value, float) or math.isfinite(value)
        # Whatever was kept is what the message said, never a number made into a flag. (An
        # integer past 2**53 is kept as the float nearest it: equal to it as a float.)
        said = rest[name]
        if type(said) is int and isinstance(value, float):
            said = float(said)
        assert said == value


@FUZZ
@given(
    st.dictionaries(st.sampled_from(sorted(MEASUREMENTS)), NOT_FINITE, min_size=1),
    st.dictionaries(
        st.sampled_from(["smoke", "co_alarm", "gas", "water_leak", "smoke_test", "battery_low"]),
        st.just(False),
    ),
    st.sampled_from([DeviceKind.CO, DeviceKind.SMOKE, DeviceKind.GAS, DeviceKind.HEAT]),
)
def test_numbers_that_are_not_finite_never_become_an_alarm(
    numbers: dict[str, str], flags: dict[str, bool], kind: DeviceKind
) -> None:
    readings = _decoded(_with_numbers(flags, numbers))
    if readings is None:
        assert not flags, "refused although it holds flags"
        return
    assert readings.present() == flags
    # Every minute for an hour, then the dose model ticking for three more.
    state, alerts = feed(kind, [(m * 60.0, StateUpdate(readings)) for m in range(60)])
    for minute in range(60, 240, 10):
        state, more = ticked(kind, state, minute * 60.0)
        alerts.extend(more)
    assert [a for a in alerts if a.kind in ALARMS and a.state is AlertState.RAISED] == []
