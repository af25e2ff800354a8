"""The emulated workspace's memory: channels, threads, ephemerals, modals, triggers and logs.

One re-entrant lock guards everything; every change bumps `version` and wakes waiters, which is
what the live page's long poll and `/_emulator/wait` sleep on. Nothing here does network I/O, so
the lock is never held while the bot is being called (the bot calls back into the Web API while
the emulator waits for its ack).
"""

from __future__ import annotations

import contextlib
import copy
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sandbox.slack import ids
from sandbox.slack.workspace import User, Workspace

RESPONSE_URL_USES = 5  # Slack: "up to 5 times within 30 minutes"
RESPONSE_URL_TTL = 30 * 60
LOG_LIMIT = 5000  # keep memory bounded in long benchmark runs
PRUNE_ABOVE = 2000  # triggers / response_urls kept before expired ones are dropped
TRIGGER_MEMORY = 60.0  # long past Slack's 3 s, so "expired" stays distinguishable from "invalid"


@dataclass
class Message:
    """A channel message or thread reply as Slack stores it."""

    channel: str
    ts: str
    user: str
    text: str
    blocks: list[dict[str, Any]]
    team: str
    bot_id: str | None = None
    app_id: str | None = None
    thread_ts: str | None = None
    subtype: str | None = None
    metadata: dict[str, Any] | None = None
    edited: dict[str, str] | None = None
    parent_user: str | None = None
    replies: list[Message] = field(default_factory=list)

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    def to_api(self, bot_name: str = "") -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": "message",
            "ts": self.ts,
            "user": self.user,
            "text": self.text,
            "blocks": copy.deepcopy(self.blocks),
            "team": self.team,
        }
        if self.bot_id:
            data["bot_id"] = self.bot_id
            data["app_id"] = self.app_id
            data["bot_profile"] = {
                "id": self.bot_id,
                "app_id": self.app_id,
                "name": bot_name,
                "team_id": self.team,
                "deleted": False,
            }
        if self.subtype:
            data["subtype"] = self.subtype
        if self.metadata is not None:
            data["metadata"] = copy.deepcopy(self.metadata)
        if self.edited:
            data["edited"] = dict(self.edited)
        if self.thread_ts:
            data["thread_ts"] = self.thread_ts
        if self.is_reply and self.parent_user:
            data["parent_user_id"] = self.parent_user
        if self.replies:
            users = list(dict.fromkeys(r.user for r in self.replies))
            data.update(
                thread_ts=self.ts,
                reply_count=len(self.replies),
                reply_users_count=len(users),
                reply_users=users,
                latest_reply=self.replies[-1].ts,
            )
        return data


@dataclass
class ChannelState:
    """A channel or DM with its top-level messages (thread broadcasts included) and an index."""

    id: str
    name: str
    is_im: bool = False
    is_private: bool = False
    user: str | None = None  # the human side of a DM
    topic: str = ""
    bot_member: bool = True  # DMs are the bot's own
    created: int = field(default_factory=lambda: int(time.time()))
    messages: list[Message] = field(default_factory=list)
    by_ts: dict[str, Message] = field(default_factory=dict)

    def to_api(self) -> dict[str, Any]:
        if self.is_im:
            return {
                "id": self.id,
                "created": self.created,
                "is_im": True,
                "is_org_shared": False,
                "user": self.user,
                "is_user_deleted": False,
                "priority": 0,
            }
        return {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "created": self.created,
            "is_channel": not self.is_private,
            "is_group": self.is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": self.is_private,
            "is_archived": False,
            "is_general": False,
            "is_member": self.bot_member,
            "topic": {"value": self.topic, "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
        }


@dataclass
class Ephemeral:
    """A message only `user` sees; Slack never stores it, so the Web API cannot read it back."""

    user: str
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    sender: str  # user id of the bot, or "USLACKBOT" for Slack's own error notes
    thread_ts: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "channel": self.channel,
            "ts": self.ts,
            "text": self.text,
            "blocks": copy.deepcopy(self.blocks),
            "sender": self.sender,
            "thread_ts": self.thread_ts,
        }


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One Web API call or bot interaction, kept as its JSON text.

    A long run keeps thousands (LOG_LIMIT of each); as dicts they were hundreds of thousands of
    objects that every full garbage collection walked, holding the emulator (and every click in
    flight) for 150-190 ms a time. A string is one object the collector does not look into.
    """

    seq: int
    time: float
    method: str  # the Web API method; "" for an interaction
    text: str  # the record's own fields

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "time": self.time, **json.loads(self.text)}


@dataclass
class OpenView:
    """A modal on a user's screen; `errors` are the bot's response_action errors, shown inline."""

    user: str
    view: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    alert: str | None = None  # what Slack says when the bot failed to answer a submission

    @property
    def id(self) -> str:
        return str(self.view["id"])

    def to_json(self) -> dict[str, Any]:
        v = self.view

        def text_of(key: str) -> str | None:
            obj = v.get(key)
            return obj.get("text") if isinstance(obj, dict) else None

        return {
            "id": v["id"],
            "callback_id": v.get("callback_id", ""),
            "external_id": v.get("external_id", ""),
            "title": text_of("title"),
            "submit": text_of("submit"),
            "close": text_of("close"),
            "blocks": copy.deepcopy(v.get("blocks", [])),
            "private_metadata": v.get("private_metadata", ""),
            "hash": v.get("hash"),
            "errors": dict(self.errors),
            "alert": self.alert,
            "view": copy.deepcopy(v),
        }


@dataclass
class Trigger:
    """A trigger_id handed to the bot; valid for `ttl` seconds and for one modal."""

    id: str
    user: str
    issued_at: float
    view_id: str | None = None  # the view it opened or pushed, once exchanged
    source_view: str | None = None  # set when issued from inside a modal


@dataclass
class ResponseTarget:
    """Where a response_url posts to: the command's channel or the clicked message."""

    id: str
    user: str
    channel: str
    message_ts: str | None
    is_ephemeral: bool
    issued_at: float
    uses: int = 0


class EmulatorState:
    """All mutable emulator state behind one lock; methods named `*_locked` expect it held."""

    def __init__(self, workspace: Workspace, now: Callable[[], float] = time.monotonic) -> None:
        self.workspace = workspace
        self.now = now
        self.lock = threading.RLock()
        self.changed_cond = threading.Condition(self.lock)
        self.ts_clock = ids.TsClock()
        self.users = {u.id: u for u in workspace.all_users}
        self.version = 0
        # Web API calls being carried out (one held back by a delay fault counts until it
        # answers). Not part of a reset: those calls are still running.
        self.in_flight = 0
        self._reset_locked()

    # -- lifecycle ---------------------------------------------------------------------------

    def _reset_locked(self) -> None:
        self.channels: dict[str, ChannelState] = {
            c.id: ChannelState(
                c.id, c.name, is_private=c.is_private, topic=c.topic, bot_member=c.bot_member
            )
            for c in self.workspace.channels
        }
        self.ephemerals: list[Ephemeral] = []
        self.views: dict[str, list[OpenView]] = {}
        # Each person's Home tab as the app last published it (views.publish), by user id.
        self.homes: dict[str, dict[str, Any]] = {}
        # Oldest first, so dropping the expired ones stops at the first that is not.
        self.triggers: OrderedDict[str, Trigger] = OrderedDict()
        self.response_targets: OrderedDict[str, ResponseTarget] = OrderedDict()
        self.calls: list[LogEntry] = []
        self.interactions: list[LogEntry] = []
        self.call_seq = 0
        self.interaction_seq = 0

    def reset(self) -> None:
        with self.lock:
            self._reset_locked()
            self.touch_locked()

    def touch_locked(self) -> None:
        self.version += 1
        self.changed_cond.notify_all()

    def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        with self.changed_cond:
            return self.changed_cond.wait_for(predicate, timeout=timeout)

    # -- lookups -----------------------------------------------------------------------------

    @property
    def bot(self) -> User:
        return self.workspace.bot

    def user(self, ref: str | None) -> User | None:
        """A user by id, name or @name (the control API speaks names, the Web API ids)."""
        if not ref:
            return None
        ref = ref.lstrip("@")
        if ref in self.users:
            return self.users[ref]
        for u in self.users.values():
            if u.name == ref:
                return u
        return None

    def user_by_email(self, email: str) -> User | None:
        return next(
            (u for u in self.users.values() if u.email and u.email.lower() == email.lower()), None
        )

    def dm_locked(self, user: User) -> ChannelState:
        cid = ids.dm_channel_id(user.id)
        if cid not in self.channels:
            self.channels[cid] = ChannelState(cid, user.name, is_im=True, user=user.id)
            self.touch_locked()
        return self.channels[cid]

    def channel_locked(self, ref: str | None) -> ChannelState | None:
        """A channel by id, name, #name; `@name` or a user id means the bot's DM with that user."""
        if not ref:
            return None
        if ref in self.channels:
            return self.channels[ref]
        if ref.startswith("@") or (ref.startswith(("U", "W")) and ref in self.users):
            user = self.user(ref)
            return self.dm_locked(user) if user and not user.is_bot else None
        if ref.startswith("D"):
            user = next((u for u in self.users.values() if ids.dm_channel_id(u.id) == ref), None)
            return self.dm_locked(user) if user and not user.is_bot else None
        name = ref.lstrip("#")
        return next(
            (c for c in self.channels.values() if not c.is_im and c.name == name),
            None,
        )

    def is_member_locked(self, channel: ChannelState, user: User) -> bool:
        return not channel.is_im or channel.user == user.id or user.is_bot

    # -- messages ----------------------------------------------------------------------------

    def post_locked(
        self,
        channel: ChannelState,
        user: User,
        text: str,
        blocks: list[dict[str, Any]],
        *,
        parent: Message | None = None,
        broadcast: bool = False,
        metadata: dict[str, Any] | None = None,
    ) -> Message:
        message = Message(
            channel=channel.id,
            ts=self.ts_clock.next(),
            user=user.id,
            text=text,
            blocks=blocks,
            team=self.workspace.team_id,
            bot_id=user.bot_id,
            app_id=self.workspace.app_id if user.bot_id else None,
            thread_ts=parent.ts if parent else None,
            parent_user=parent.user if parent else None,
            subtype="thread_broadcast" if parent and broadcast else None,
            metadata=metadata,
        )
        channel.by_ts[message.ts] = message
        if parent is not None:
            parent.replies.append(message)
        if parent is None or broadcast:
            channel.messages.append(message)
        self.touch_locked()
        return message

    def thread_parent_locked(self, channel: ChannelState, thread_ts: str) -> Message | None:
        message = channel.by_ts.get(thread_ts)
        if message is None:
            return None
        # Replying to a reply lands in the same thread, as in Slack's clients.
        if message.is_reply and message.thread_ts:
            return channel.by_ts.get(message.thread_ts)
        return message

    def delete_locked(self, channel: ChannelState, message: Message) -> None:
        if message.replies:
            # Slack keeps a tombstone so the thread stays reachable.
            message.text, message.blocks, message.subtype = (
                "This message was deleted.",
                [],
                "tombstone",
            )
        else:
            channel.by_ts.pop(message.ts, None)
            if message in channel.messages:
                channel.messages.remove(message)
            if message.is_reply and message.thread_ts:
                parent = channel.by_ts.get(message.thread_ts)
                if parent and message in parent.replies:
                    parent.replies.remove(message)
        self.touch_locked()

    def messages_json(self, channel: ChannelState) -> list[dict[str, Any]]:
        with self.lock:
            out = []
            for m in channel.messages:
                data = m.to_api(self.bot.real_name)
                data["replies"] = (
                    [r.to_api(self.bot.real_name) for r in m.replies] if not m.is_reply else []
                )
                out.append(data)
            return out

    # -- ephemerals --------------------------------------------------------------------------

    def add_ephemeral_locked(
        self,
        user: User,
        channel: ChannelState,
        text: str,
        blocks: list[dict[str, Any]],
        *,
        sender: str,
        thread_ts: str | None = None,
    ) -> Ephemeral:
        eph = Ephemeral(
            user=user.id,
            channel=channel.id,
            ts=self.ts_clock.next(),
            text=text,
            blocks=blocks,
            sender=sender,
            thread_ts=thread_ts,
        )
        self.ephemerals.append(eph)
        self.touch_locked()
        return eph

    def ephemeral_locked(self, user_id: str, channel: str, ts: str) -> Ephemeral | None:
        return next(
            (
                e
                for e in self.ephemerals
                if e.user == user_id and e.channel == channel and e.ts == ts
            ),
            None,
        )

    # -- modals ------------------------------------------------------------------------------

    def stack_locked(self, user_id: str) -> list[OpenView]:
        return self.views.setdefault(user_id, [])

    def find_view_locked(
        self, view_id: str | None = None, external_id: str | None = None
    ) -> OpenView | None:
        for stack in self.views.values():
            for open_view in stack:
                if view_id and open_view.id == view_id:
                    return open_view
                if external_id and open_view.view.get("external_id") == external_id:
                    return open_view
        return None

    def build_view_locked(
        self,
        user_id: str,
        view: dict[str, Any],
        *,
        view_id: str | None = None,
        root_view_id: str | None = None,
        previous_view_id: str | None = None,
    ) -> dict[str, Any]:
        """The full view object Slack returns: the bot's fields plus ids, hash and empty state."""
        vid = view_id or ids.view_id()
        ws = self.workspace
        return {
            "id": vid,
            "team_id": ws.team_id,
            "type": view.get("type", "modal"),
            "blocks": copy.deepcopy(view.get("blocks", [])),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": ids.view_hash(),
            "title": copy.deepcopy(view.get("title")),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": copy.deepcopy(view.get("close")),
            "submit": copy.deepcopy(view.get("submit")),
            "previous_view_id": previous_view_id,
            "root_view_id": root_view_id or vid,
            "app_id": ws.app_id,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": ws.team_id,
            "bot_id": ws.bot.bot_id,
        }

    def home_json(self, user_id: str) -> dict[str, Any] | None:
        with self.lock:
            home = self.homes.get(user_id)
            return copy.deepcopy(home) if home is not None else None

    def views_json(self, user_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [v.to_json() for v in self.views.get(user_id, [])]

    # -- triggers and response_urls ----------------------------------------------------------

    def issue_trigger_locked(self, user: User, source_view: str | None = None) -> Trigger:
        if len(self.triggers) > PRUNE_ABOVE:
            # Benchmarks click thousands of times; a trigger is worthless after seconds.
            _forget_issued_before(self.triggers, self.now() - TRIGGER_MEMORY)
        trigger = Trigger(ids.trigger_id(), user.id, self.now(), source_view=source_view)
        self.triggers[trigger.id] = trigger
        return trigger

    def issue_response_url_locked(
        self, user: User, channel: ChannelState, message_ts: str | None, *, is_ephemeral: bool
    ) -> ResponseTarget:
        if len(self.response_targets) > PRUNE_ABOVE:
            _forget_issued_before(self.response_targets, self.now() - RESPONSE_URL_TTL)
        target = ResponseTarget(
            id=ids.url_token(),
            user=user.id,
            channel=channel.id,
            message_ts=message_ts,
            is_ephemeral=is_ephemeral,
            issued_at=self.now(),
        )
        self.response_targets[target.id] = target
        return target

    # -- logs --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def call_in_flight(self) -> Iterator[None]:
        with self.lock:
            self.in_flight += 1
        try:
            yield
        finally:
            with self.lock:
                self.in_flight -= 1
                self.changed_cond.notify_all()

    def log_call(self, method: str, params: dict[str, Any], status: int, response: Any) -> None:
        # Encoded before the lock is taken: every other request waits while it is held.
        record = {"method": method, "params": params, "status": status, "response": response}
        text = json.dumps(record, default=str)
        with self.lock:
            self.call_seq += 1
            self.calls.append(LogEntry(self.call_seq, time.time(), method, text))
            del self.calls[:-LOG_LIMIT]
            self.touch_locked()

    def log_interaction(self, record: dict[str, Any]) -> None:
        text = json.dumps(record, default=str)
        with self.lock:
            self.interaction_seq += 1
            self.interactions.append(LogEntry(self.interaction_seq, time.time(), "", text))
            del self.interactions[:-LOG_LIMIT]
            self.touch_locked()


def _forget_issued_before(issued: OrderedDict[str, Any], floor: float) -> None:
    """Drop the entries issued at or before `floor`, oldest first, stopping at the first still
    valid. (Sweeping the whole map on every click, once it held PRUNE_ABOVE entries that were
    all still valid, made each click of a long benchmark slower than the one before.)"""
    while issued:
        oldest = next(iter(issued.values()))
        if oldest.issued_at > floor:
            return
        issued.popitem(last=False)
