"""The installed package's version (GET /api/v1/health, the page, the PyTorch script)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bptt-studio")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
