"""The `trailguard` command line."""
