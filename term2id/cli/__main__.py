"""`python -m term2id.cli`: the `term2id` command."""

from term2id.cli import main

main()
