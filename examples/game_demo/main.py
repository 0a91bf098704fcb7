"""Run the game as a script: ``python examples/game_demo/main.py [options]``."""

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: emoplay and examples

from examples.game_demo.app import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
