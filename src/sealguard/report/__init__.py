"""Report: what people and scripts read about observations, seals and the log."""
