"""The ``chartcode`` command line."""
