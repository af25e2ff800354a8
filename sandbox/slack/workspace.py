"""Who and where: the users, channels and bot identity of an emulated Slack workspace."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class User:
    """A workspace member; ids look like Slack's (`U…`) so bots can store them unchanged."""

    id: str
    name: str
    real_name: str = ""
    email: str = ""
    is_bot: bool = False
    bot_id: str | None = None
    is_admin: bool = False
    tz: str = "UTC"

    def to_api(self, team_id: str) -> dict[str, Any]:
        """The `user` object of users.info / users.list (email included: users:read.email)."""
        display = self.real_name or self.name
        profile: dict[str, Any] = {
            "real_name": display,
            "display_name": self.name,
            "real_name_normalized": display,
            "display_name_normalized": self.name,
            "email": self.email,
            "team": team_id,
        }
        if self.bot_id:
            profile["bot_id"] = self.bot_id
        return {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "deleted": False,
            "real_name": display,
            "tz": self.tz,
            "is_admin": self.is_admin,
            "is_owner": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "profile": profile,
        }


@dataclass(frozen=True)
class Channel:
    """A public or private channel; DMs are made on demand by the emulator, not declared here."""

    id: str
    name: str
    is_private: bool = False
    topic: str = ""
    # Whether the bot was invited (`/invite @bot`). Without chat:write.public a bot can post in,
    # and read, only channels it is in; the sandbox invites it everywhere.
    bot_member: bool = True


@dataclass(frozen=True)
class Workspace:
    """Everything the emulator needs to know about the team before the first request."""

    users: tuple[User, ...]
    channels: tuple[Channel, ...]
    bot: User = field(
        default_factory=lambda: User(
            id="U0SIGNOFF",
            name="signoff",
            real_name="Signoff",
            is_bot=True,
            bot_id="B0SIGNOFF",
        )
    )
    team_id: str = "T0SIGNOFF"
    team_domain: str = "signoff-sandbox"
    team_name: str = "Signoff Sandbox"
    app_id: str = "A0SIGNOFF"

    def __post_init__(self) -> None:
        ids = [u.id for u in self.all_users] + [c.id for c in self.channels]
        if len(ids) != len(set(ids)):
            raise ValueError("user and channel ids must be unique")
        if not self.bot.bot_id:
            raise ValueError("the bot user needs a bot_id (B…)")

    @property
    def all_users(self) -> tuple[User, ...]:
        return (*self.users, self.bot)


def demo_workspace() -> Workspace:
    """The sandbox's cast: approvers, two requesters, and mallory, who is mapped to no role."""
    people = [
        ("alice", "Alice Approver"),
        ("bob", "Bob Builder"),
        ("carol", "Carol Checker"),
        ("dave", "Dave Developer"),
        ("erin", "Erin Engineer"),
        ("mallory", "Mallory Outsider"),
    ]
    users = tuple(
        User(id=f"U0{name.upper()}", name=name, real_name=real, email=f"{name}@example.com")
        for name, real in people
    )
    channels = (
        Channel("C0APPROVALS", "approvals", topic="AWS approvals waiting for a decision"),
        Channel("C0LEVEL1", "approvals-level1", topic="Level 1 approvers"),
        Channel("C0LEVEL2", "approvals-level2", topic="Level 2 approvers"),
        Channel("C0LEVEL3", "approvals-level3", topic="Level 3 approvers"),
        # Quiet channels bench/fanout.py routes extra topics to (notices over up to 10 channels).
        *(Channel(f"C0FANOUT{n}", f"fanout-{n}", topic="Fan-out benchmark") for n in range(5, 11)),
    )
    return Workspace(users=users, channels=channels)
