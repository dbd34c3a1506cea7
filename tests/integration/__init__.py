"""Tests over real parts together: the store, the file system, subprocesses."""
