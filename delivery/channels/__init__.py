"""The notify path's channels (DESIGN §7): ports in `ports.py`, simulators, HTTP adapters,
and `wiring.build_channels`, which picks one or the other per channel from the settings."""
