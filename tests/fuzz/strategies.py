"""Inputs for the parsers: arbitrary bytes, arbitrary JSON, and JSON shaped like ours."""

import json
from typing import Any

from hypothesis import strategies as st

from tests.fuzz.conftest import RUNS

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=40),
    st.sampled_from(["", "ON", "OFF", "true", "1", "emergency", "press", "online", "offline"]),
)

JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)


def objects_with(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Return JSON objects using our own field names (so validation gets past the first key)."""
    return st.dictionaries(st.sampled_from(keys), JSON_VALUES | SCALARS, max_size=len(keys))


def as_bytes(values: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """Return JSON texts of ``values``, as bytes."""
    return values.map(lambda v: json.dumps(v, allow_nan=True).encode())


PAYLOADS = st.one_of(
    st.binary(max_size=200), as_bytes(JSON_VALUES), st.text(max_size=200).map(str.encode)
)

IDS = st.one_of(
    st.sampled_from(["b3-1201-smoke", "e1", "x", "a.b_c-d"]),
    st.text(max_size=70),
)


def run(parser: str) -> None:
    """Count one example of ``parser``."""
    RUNS[parser] += 1
