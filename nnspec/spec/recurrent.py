"""Recurrent networks: RNN, LSTM and GRU: the textbook formulas in float64 (not yet written)."""
