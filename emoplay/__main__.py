"""``python -m emoplay``: the ``emoplay`` command."""

from .cli import main

raise SystemExit(main())
