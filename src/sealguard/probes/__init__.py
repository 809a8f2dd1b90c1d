"""Probes: running the product's own checks once, reading and normalising what they print."""
