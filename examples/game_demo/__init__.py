"""The Keeper of Gull Rock: an example game for emoplay (see README.md)."""

from .app import Game, GameOptions, main, run_headless
from .story import Story, StoryError, load_story

__all__ = ["Game", "GameOptions", "Story", "StoryError", "load_story", "main", "run_headless"]
