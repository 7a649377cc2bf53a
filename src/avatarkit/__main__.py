"""``python -m avatarkit`` is ``avatarkit``."""

from .cli import main

main()
