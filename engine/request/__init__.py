"""The request: its fields, its data, its parameters and the named scenarios."""
