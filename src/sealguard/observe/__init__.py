"""Observe: one observation, exactly as the runbook orders it, and its pure rules."""
