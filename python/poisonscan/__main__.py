"""``python -m poisonscan``: the command line."""

from ._cli import main

main()
