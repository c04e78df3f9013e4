"""Errors raised by the simulators.

Hierarchy::

    SimulatorError              anything the simulators refuse
    ├── UnknownScenarioError    a scenario name that is not in ``SCENARIOS``
    └── NoSuitableDeviceError   the site has no device the scenario needs
"""


class SimulatorError(Exception):
    """The simulators cannot do what was asked."""


class UnknownScenarioError(SimulatorError):
    """A scenario name that is not registered."""


class NoSuitableDeviceError(SimulatorError):
    """The site lacks a device a scenario needs (e.g. no CO detector for ``co_rising``)."""
