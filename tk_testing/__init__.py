"""Test-author surfaces over the engine: the `timekeepers` pytest plugin (`pytest_plugin`)."""
