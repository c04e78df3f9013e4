"""The standards-based detectors, one module per concept; ``edge.detection`` composes them.

Each module is pure: a small frozen state, a function of (state, reading, event time) that
returns the next state and a verdict. None of them knows about alerts or persistence.
"""
