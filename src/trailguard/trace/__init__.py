"""Attack tracing: alerts become incidents with an ordered ATT&CK chain."""
