"""Tests of the posture audit."""
