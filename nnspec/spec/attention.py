"""Attention, positional encoding, layer norm and the transformer block: the textbook formulas in float64 (not yet written)."""
