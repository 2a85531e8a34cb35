"""matrix package."""
