"""The bot's Forest client; it lives in the `bot.forest` package, imported from here too."""

from bot.forest import ForestClient, ForestError, ForestUser

__all__ = ["ForestClient", "ForestError", "ForestUser"]
