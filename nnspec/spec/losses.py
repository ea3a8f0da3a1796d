"""Losses and regularization: the textbook formulas in float64 (not yet written)."""
