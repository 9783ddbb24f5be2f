"""Lottery draws (SPEC R11). The draw models are defined by the lottery work."""
