"""Official code sets: install, verify, compile to a local knowledge base, and query by date of service."""
