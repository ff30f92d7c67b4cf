"""The domain core: numbers, statuses and reasons, rule settings. Pure: no I/O."""
