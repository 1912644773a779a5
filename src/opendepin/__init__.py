"""opendepin: an open-source engine for running a DePIN."""

__version__ = "0.1.0"
__all__ = ["__version__"]
