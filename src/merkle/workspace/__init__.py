"""The workspace: init, scan, status, validate, and the ignore rules."""
