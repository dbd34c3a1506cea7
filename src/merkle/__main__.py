"""`python -m merkle`: the same as the `merkle` command."""

from merkle.cli.app import main

main()
