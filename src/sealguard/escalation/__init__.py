"""Escalation: the matrix, a durable outbox, real channels, deadlines and acknowledgement."""
