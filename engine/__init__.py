"""BPTT engine (placeholder until the engine issue lands)."""
