"""Tests of the logging audit checks."""
