"""``python -m emoplay.cli``: the ``emoplay`` command."""

from . import main

raise SystemExit(main())
