"""A local Slack for Signoff: Web API, signed requests to the bot, a control API and a web page.

Start with `SlackEmulator`; the control API's contract is in `sandbox.slack.control`.
"""

from sandbox.slack.emulator import SlackEmulator
from sandbox.slack.server import BackgroundServer
from sandbox.slack.workspace import Channel, User, Workspace, demo_workspace

__all__ = ["BackgroundServer", "Channel", "SlackEmulator", "User", "Workspace", "demo_workspace"]
