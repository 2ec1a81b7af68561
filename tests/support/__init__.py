"""Test helpers shared across test packages (a loopback WebPush receiver, ...)."""
