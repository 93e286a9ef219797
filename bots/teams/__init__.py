"""The Teams bot: botbuilder's CloudAdapter on aiohttp at POST /api/messages, with the
Bot Framework's JWT validation, replies as text and Adaptive Cards, and proactive posts for the
audit sink (TeamsPoster)."""

from bots.teams.poster import TeamsPoster, TeamsPostError
from bots.teams.routes import MESSAGES_PATH, add_teams_routes
from bots.teams.settings import TeamsSettings

__all__ = ["MESSAGES_PATH", "TeamsPostError", "TeamsPoster", "TeamsSettings", "add_teams_routes"]
