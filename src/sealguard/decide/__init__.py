"""The decide stage: signed human decisions, the people allowed to sign them, and their keys."""
