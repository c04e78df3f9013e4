"""Fixtures of the residents' tests: the hub tests' migrated database and fake clock (a module
whose story starts at another time overrides ``clock``)."""

from tests.hub.conftest import clock, engine

__all__ = ["clock", "engine"]
