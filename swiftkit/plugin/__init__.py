"""Code that runs inside ms-swift's own process (loaded with --external_plugins)."""
