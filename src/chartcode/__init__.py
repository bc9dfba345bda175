"""chartcode: an open-source medical coding engine."""

__version__ = "0.1.0"
