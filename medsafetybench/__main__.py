"""python -m medsafetybench."""

from .cli import main

main()
