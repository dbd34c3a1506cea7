"""Tests of the real `merkle` entry point, one module per command."""
