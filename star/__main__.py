"""`python -m star ...` is the same as the `star` command."""

from star.cli import main

main()
