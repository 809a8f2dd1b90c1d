"""Seal: hash the sealed build once, run every probe once, write its baseline, and verify it."""
