"""The cells: the protocol a cell implements, the registry, and each cell whole."""
