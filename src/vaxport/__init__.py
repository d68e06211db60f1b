"""vaxport: a national vaccination platform."""

__version__ = "0.1.0"
