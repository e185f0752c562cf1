"""The training engine: it owns the loop and knows no method or dataset by name."""
