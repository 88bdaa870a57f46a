"""A bundled sample site and the WordPress-like server that serves it (demo and tests)."""
