"""Tests of the storage audit checks."""
