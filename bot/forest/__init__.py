"""The bot's Forest client (grpc.aio): reads with the service token, votes with the user's.

`bot.forest_client` re-exports the same names.
"""

from .client import ForestClient, ForestUser
from .errors import ForestError

__all__ = ["ForestClient", "ForestError", "ForestUser"]
