"""Data sets: one module per task builds the raw data, tokenizes it and saves it to disk."""


class DataError(ValueError):
    """A data file is missing, malformed, or lacks what the task needs; the message says how to fix it."""
