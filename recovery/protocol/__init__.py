"""The recovery protocol: definition (data), bounds, and the pure planning engine."""
