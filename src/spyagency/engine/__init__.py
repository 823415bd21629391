"""Pollers, the evaluator, coordination and the Agency object that runs them."""
