"""Evaluation of the coder: pure metrics (:mod:`.metrics`) and the CodiEsp runner (:mod:`.codiesp`)."""
