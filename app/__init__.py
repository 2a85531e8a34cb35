"""readmark: a keyboard-driven terminal read-state manager for Matrix."""

__version__ = "0.1.0"
