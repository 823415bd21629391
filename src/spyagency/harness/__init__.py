"""Drives the real agency against the simulator: in-process replays and the time-scaled demo.

Nothing of the agency imports this package; it sits above the composition root.
"""
