"""The command line: argument parsing, routing to services, presentation. No domain logic."""
