"""A request planned once (sizes, windows, work) and what that work will cost."""
