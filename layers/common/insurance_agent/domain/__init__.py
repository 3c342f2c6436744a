"""Pure insurance rules: no I/O, no AWS SDK, no web framework."""
