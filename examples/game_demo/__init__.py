"""The Keeper of Gull Rock: an example game for emoplay (see README.md)."""

import os

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # pygame's greeting is not the game's to print

from .app import Game, GameOptions, main, run_headless  # noqa: E402 - after the variable, which pygame reads
from .story import Story, StoryError, load_story

__all__ = ["Game", "GameOptions", "Story", "StoryError", "load_story", "main", "run_headless"]
