"""The package's version: one low module that the package and the `.look` writer both read."""
__version__ = "0.1.0"
