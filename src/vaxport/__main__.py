"""``python -m vaxport``: the same as the ``vaxport`` console script."""

from vaxport.cli import main

main()
