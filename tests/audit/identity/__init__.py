"""Tests of the identity audit checks."""
