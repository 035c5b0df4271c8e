"""The package version (read by the CLI's --version without importing the package's layers)."""

__version__ = "0.1.0"
