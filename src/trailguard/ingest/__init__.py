"""Stage 1: read evidence files into the case store."""
