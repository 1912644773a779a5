"""`python -m opendepin` is the `depin` command."""

from opendepin.cli import main

main()
