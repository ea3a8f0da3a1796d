"""Optimizers, learning-rate schedules and gradient clipping: the textbook formulas in float64 (not yet written)."""
