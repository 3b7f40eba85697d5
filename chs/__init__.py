"""chs: Customer Health Score toolkit."""

__version__ = "0.1.0"
