"""What every part of the app shares: the settings, the one shape of an error, JSON in and
out, where the app's files lie, its version. Imports nothing else of the app."""
