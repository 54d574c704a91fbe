"""Tests of the security-group analyser."""
