"""Entry point of the self-contained server: ``emoplay-serve ARGS`` runs ``emoplay serve ARGS``."""

import sys

from emoplay.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
