"""Hypothesis profiles for the parser fuzzing, and the examples each parser was given.

``LINLI_FUZZ_PROFILE`` picks the profile: ``test`` (the default, what ``make test`` runs) gives
every parser 1,000 examples (each API body 300: every example there is a whole HTTP request
through the hub, and forty routes at 1,000 took a quarter of the suite's time); ``fuzz``
(``make fuzz``) 10,000 for all of them. The session ends by printing how
many examples each parser ran (when the tests run in one process: ``make fuzz`` does).
"""

import os
from collections import Counter

import pytest
from hypothesis import HealthCheck, settings

EXAMPLES = {"test": 1_000, "fuzz": 10_000}
API_BODY_EXAMPLES = {"test": 300, "fuzz": 10_000}

for name, examples in EXAMPLES.items():
    settings.register_profile(
        name,
        max_examples=examples,
        deadline=None,  # two shared cores: a slow example is not a bug
        database=None,  # nothing written beside the checkout
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
PROFILE = os.environ.get("LINLI_FUZZ_PROFILE", "test")
settings.load_profile(PROFILE)

RUNS: Counter[str] = Counter()
"""Examples run per parser in this process (``tests.fuzz.strategies.run``)."""


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the examples each parser ran."""
    if not RUNS:
        return
    terminalreporter.section(f"fuzzing: examples per parser (profile {PROFILE})")
    for parser, count in sorted(RUNS.items()):
        terminalreporter.write_line(f"{count:>8}  {parser}")
    terminalreporter.write_line(f"{sum(RUNS.values()):>8}  in all, {len(RUNS)} parsers")
