"""What a person does in Slack — run a command, click, submit or close a modal — and what follows.

The control API and the web page both come through here, so a test's click and a human's click
take the same path: build Slack's payload under the state lock, send it to the bot without the
lock (the bot calls the Web API before it acks), then apply what the ack says.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

from sandbox.slack import payloads
from sandbox.slack.blocks import validate_view
from sandbox.slack.outbound import BotEndpoint, BotReply
from sandbox.slack.state import ChannelState, EmulatorState, OpenView, ResponseTarget
from sandbox.slack.webapi import MAX_VIEW_STACK, ensure_ids
from sandbox.slack.workspace import User

SLACKBOT = "USLACKBOT"
REQUIRED = "This field is required."
BOT_FAILED_ALERT = "We had some trouble connecting. Try again?"  # Slack's words in a modal

_MISSING: Any = object()


class ControlError(Exception):
    """A request the emulator cannot act on (unknown user, no such button…), as HTTP 4xx."""

    def __init__(self, status: int, error: str, detail: str = "") -> None:
        super().__init__(f"{error}: {detail}" if detail else error)
        self.status = status
        self.error = error
        self.detail = detail


# -- finding what was clicked ---------------------------------------------------------------


def _elements(block: dict[str, Any]) -> Iterator[dict[str, Any]]:
    kind = block.get("type")
    if kind == "actions":
        yield from (e for e in block.get("elements", []) if isinstance(e, dict))
    elif kind == "section" and isinstance(block.get("accessory"), dict):
        yield block["accessory"]
    elif kind == "input" and isinstance(block.get("element"), dict):
        yield block["element"]


def find_element(
    blocks: list[dict[str, Any]], action_id: str, block_id: str | None, value: str | None
) -> tuple[str, dict[str, Any]]:
    """The (block_id, element) a click names; `value` tells apart same-id buttons in two blocks."""
    found = [
        (str(block.get("block_id", "")), el)
        for block in blocks
        for el in _elements(block)
        if el.get("action_id") == action_id and block_id in (None, block.get("block_id"))
    ]
    if value is not None and len(found) > 1:
        found = [f for f in found if f[1].get("value") == value] or found
    if not found:
        available = sorted({str(e.get("action_id")) for b in blocks for e in _elements(b)})
        raise ControlError(404, "action_not_found", f"{action_id!r}; available: {available}")
    return found[0]


def _options(element: dict[str, Any]) -> list[dict[str, Any]]:
    opts = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        opts.extend(group.get("options") or [])
    return opts


def _option(element: dict[str, Any], value: Any) -> dict[str, Any] | None:
    if value is None or value == "":
        return None
    for option in _options(element):
        if option.get("value") == value:
            return copy.deepcopy(option)
    raise ControlError(
        400, "invalid_value", f"{value!r} is not an option of {element.get('action_id')!r}"
    )


def _listify(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


class _Selection:
    """Turns a plain value (from a test or the page) into the typed shape Slack reports."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def user_id(self, ref: Any) -> str | None:
        if not ref:
            return None
        user = self.state.user(str(ref))
        if user is None:
            raise ControlError(400, "invalid_value", f"no user {ref!r}")
        return user.id

    def channel_id(self, ref: Any) -> str | None:
        if not ref:
            return None
        with self.state.lock:
            channel = self.state.channel_locked(str(ref))
        if channel is None:
            raise ControlError(400, "invalid_value", f"no channel {ref!r}")
        return channel.id

    def fields(self, element: dict[str, Any], value: Any) -> dict[str, Any]:
        kind = element.get("type")
        if kind in ("static_select", "external_select", "radio_buttons", "overflow"):
            return {"selected_option": _option(element, value)}
        if kind in ("multi_static_select", "multi_external_select", "checkboxes"):
            return {"selected_options": [_option(element, v) for v in _listify(value)]}
        if kind == "users_select":
            return {"selected_user": self.user_id(value)}
        if kind == "multi_users_select":
            return {"selected_users": [self.user_id(v) for v in _listify(value)]}
        if kind == "conversations_select":
            return {"selected_conversation": self.channel_id(value)}
        if kind == "channels_select":
            return {"selected_channel": self.channel_id(value)}
        if kind == "datepicker":
            return {"selected_date": value or None}
        if kind == "timepicker":
            return {"selected_time": value or None}
        return {"value": value if value not in (None, "") else None}

    def initial(self, element: dict[str, Any]) -> Any:
        """The value a form starts with when the person leaves the input untouched."""
        for key in ("initial_value", "initial_user", "initial_conversation", "initial_channel"):
            if key in element:
                return element[key]
        if "initial_date" in element:
            return element["initial_date"]
        if "initial_time" in element:
            return element["initial_time"]
        if isinstance(element.get("initial_option"), dict):
            return element["initial_option"].get("value")
        if isinstance(element.get("initial_options"), list):
            return [o.get("value") for o in element["initial_options"]]
        if "initial_users" in element:
            return element["initial_users"]
        return None


def _empty(entry: dict[str, Any]) -> bool:
    return all(v in (None, "", []) for k, v in entry.items() if k != "type")


def view_state(
    blocks: list[dict[str, Any]], provided: dict[str, Any], select: _Selection
) -> tuple[dict[str, Any], dict[str, str]]:
    """`view.state.values` for a submission, and the errors Slack's client shows before sending."""
    if not isinstance(provided, dict):
        raise ControlError(400, "invalid_values", "values is {block_id: {action_id: value}}")
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    # ensure_ids gave every stored block a block_id, so str() is only for the type checker.
    inputs = {str(b.get("block_id")): b for b in blocks if b.get("type") == "input"}
    unknown = set(provided) - set(inputs)
    if unknown:
        raise ControlError(400, "unknown_block", f"{sorted(unknown)}; inputs: {sorted(inputs)}")
    for block_id, block in inputs.items():
        element = block.get("element") or {}
        action_id = element.get("action_id")
        given = provided.get(block_id, {})
        if not isinstance(given, dict) or set(given) - {action_id}:
            raise ControlError(
                400, "unknown_action", f"block {block_id!r} has one input, {action_id!r}"
            )
        raw = given.get(action_id, _MISSING)
        value = select.initial(element) if raw is _MISSING else raw
        entry = {"type": element.get("type"), **select.fields(element, value)}
        values[str(block_id)] = {str(action_id): entry}
        if _empty(entry):
            if not block.get("optional"):
                errors[str(block_id)] = REQUIRED
        elif isinstance(entry.get("value"), str):
            text = entry["value"]
            low, high = element.get("min_length"), element.get("max_length")
            if isinstance(low, int) and len(text) < low:
                errors[str(block_id)] = f"Please enter at least {low} characters."
            elif isinstance(high, int) and len(text) > high:
                errors[str(block_id)] = f"Please enter no more than {high} characters."
    return values, errors


# -- the interactions -------------------------------------------------------------------------


class Interactions:
    """Slack's client side: turns a person's gesture into the request Slack would send the bot."""

    def __init__(
        self, state: EmulatorState, bot: BotEndpoint, public_url: Callable[[], str]
    ) -> None:
        self.state = state
        self.bot = bot
        self.public_url = public_url
        self.select = _Selection(state)

    # -- lookups ----------------------------------------------------------------------------

    def member(self, ref: Any) -> User:
        """A person (not the bot) by name or id; the control API's way of naming who acts."""
        user = self.state.user(str(ref)) if ref else None
        if user is None or user.is_bot:
            raise ControlError(404, "user_not_found", f"no workspace member {ref!r}")
        return user

    def _channel_for(self, user: User, ref: Any) -> ChannelState:
        channel = self.state.channel_locked(str(ref)) if ref else self.state.dm_locked(user)
        if channel is None:
            raise ControlError(404, "channel_not_found", f"no channel {ref!r}")
        if not self.state.is_member_locked(channel, user):
            raise ControlError(403, "not_in_channel", f"{user.name} is not in {channel.id}")
        return channel

    def _response_url(self, target: ResponseTarget) -> str:
        return f"{self.public_url()}/_emulator/respond/{target.id}"

    def _send(self, kind: str, user: User, payload: dict[str, Any], form: bool = False) -> BotReply:
        reply = self.bot.post_form(payload) if form else self.bot.post_payload(payload)
        self.state.log_interaction(
            {"kind": kind, "user": user.id, "payload": payload, **reply.to_json()}
        )
        return reply

    def _opened(self, trigger_id: str) -> dict[str, Any] | None:
        trigger = self.state.triggers.get(trigger_id)
        if trigger is None or trigger.view_id is None:
            return None
        view = self.state.find_view_locked(view_id=trigger.view_id)
        return view.to_json() if view else None

    def _result(self, reply: BotReply, **extra: Any) -> dict[str, Any]:
        return {"ok": True, **reply.to_json(), **extra, "version": self.state.version}

    # -- slash command ----------------------------------------------------------------------

    def command(
        self, user_ref: Any, channel_ref: Any, command: str, text: str = ""
    ) -> dict[str, Any]:
        if not command.startswith("/"):
            raise ControlError(400, "invalid_command", "a slash command starts with /")
        state = self.state
        with state.lock:
            user = self.member(user_ref)
            channel = self._channel_for(user, channel_ref)
            trigger = state.issue_trigger_locked(user)
            target = state.issue_response_url_locked(user, channel, None, is_ephemeral=True)
            form = payloads.slash_command(
                state.workspace,
                user,
                channel,
                command=command,
                text=text,
                trigger_id=trigger.id,
                response_url=self._response_url(target),
            )
        reply = self._send("slash_command", user, form, form=True)
        with state.lock:
            shown = self._show_command_ack(user, channel, command, reply)
            return self._result(
                reply,
                trigger_id=trigger.id,
                response_url=form["response_url"],
                ephemeral=shown["ephemeral"],
                message=shown["message"],
                view=self._opened(trigger.id),
            )

    def _show_command_ack(
        self, user: User, channel: ChannelState, command: str, reply: BotReply
    ) -> dict[str, Any]:
        """Slack shows a non-empty ack to the invoker, or to the channel if `in_channel`."""
        state = self.state
        shown: dict[str, Any] = {"ephemeral": None, "message": None}
        if not reply.ok:
            error = reply.error or "dispatch_failed"
            error = "operation_timeout" if error == "operation_timeout" else "dispatch_failed"
            note = f'{command} failed with the error "{error}"'
            eph = state.add_ephemeral_locked(user, channel, note, [], sender=SLACKBOT)
            shown["ephemeral"] = eph.to_json()
            return shown
        body = reply.body
        if isinstance(body, str) and body.strip():
            body = {"text": body}
        if not isinstance(body, dict):
            return shown
        text = body.get("text") or ""
        raw_blocks = body.get("blocks")
        blocks = ensure_ids(raw_blocks) if isinstance(raw_blocks, list) else []
        if not text and not blocks:
            return shown
        if body.get("response_type") == "in_channel":
            shown["message"] = state.post_locked(channel, state.bot, text, blocks).to_api()
        else:
            eph = state.add_ephemeral_locked(user, channel, text, blocks, sender=state.bot.id)
            shown["ephemeral"] = eph.to_json()
        return shown

    # -- clicks -----------------------------------------------------------------------------

    def click(
        self,
        user_ref: Any,
        action_id: str,
        *,
        channel_ref: Any = None,
        ts: str | None = None,
        view_id: str | None = None,
        block_id: str | None = None,
        value: Any = None,
        values: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        state = self.state
        with state.lock:
            user = self.member(user_ref)
            home = state.homes.get(user.id)
            if view_id and home is not None and home["id"] == view_id:
                payload, trigger_id = self._home_click(user, home, action_id, block_id, value)
            elif view_id:
                payload, trigger_id = self._view_click(
                    user, view_id, action_id, block_id, value, values or {}
                )
            else:
                payload, trigger_id = self._message_click(
                    user, channel_ref, ts, action_id, block_id, value
                )
        reply = self._send("block_actions", user, payload)
        with state.lock:
            return self._result(
                reply,
                trigger_id=trigger_id,
                action=payload["actions"][0],
                view=self._opened(trigger_id),
            )

    def _action(self, block_id: str, element: dict[str, Any], value: Any) -> dict[str, Any]:
        action: dict[str, Any] = {
            "action_id": element.get("action_id"),
            "block_id": block_id,
            "type": element.get("type"),
            "action_ts": payloads.action_ts(),
        }
        if element.get("type") == "button":
            action["text"] = copy.deepcopy(element.get("text"))
            for key in ("value", "style", "url"):
                if key in element:
                    action[key] = element[key]
        else:
            if value is None and element.get("type") not in ("plain_text_input",):
                raise ControlError(400, "value_required", "say which option was chosen: value")
            action.update(self.select.fields(element, value))
        return action

    def _message_click(
        self,
        user: User,
        channel_ref: Any,
        ts: str | None,
        action_id: str,
        block_id: str | None,
        value: Any,
    ) -> tuple[dict[str, Any], str]:
        state = self.state
        if not ts:
            raise ControlError(400, "ts_required", "name the message by its ts")
        channel = self._channel_for(user, channel_ref)
        message = channel.by_ts.get(ts)
        ephemeral = None if message else state.ephemeral_locked(user.id, channel.id, ts)
        source = message or ephemeral
        if source is None:
            raise ControlError(404, "message_not_found", f"{ts} in {channel.id}")
        found_block, element = find_element(source.blocks, action_id, block_id, value)
        trigger = state.issue_trigger_locked(user)
        target = state.issue_response_url_locked(
            user, channel, source.ts, is_ephemeral=ephemeral is not None
        )
        payload = payloads.block_actions_in_message(
            state.workspace,
            user,
            channel,
            message=message,
            ephemeral=ephemeral,
            action=self._action(found_block, element, value),
            trigger_id=trigger.id,
            response_url=self._response_url(target),
            bot_name=state.bot.real_name,
        )
        return payload, trigger.id

    def _top_view(self, user: User, view_id: str | None) -> OpenView:
        stack = self.state.views.get(user.id) or []
        if not stack:
            raise ControlError(404, "no_open_view", f"{user.name} has no modal open")
        top = stack[-1]
        if view_id and top.id != view_id:
            # Only the top modal is on screen; anything under it cannot be touched.
            raise ControlError(409, "view_not_on_top", f"{view_id} is not {user.name}'s top view")
        return top

    def _view_click(
        self,
        user: User,
        view_id: str,
        action_id: str,
        block_id: str | None,
        value: Any,
        values: dict[str, Any],
    ) -> tuple[dict[str, Any], str]:
        state = self.state
        open_view = self._top_view(user, view_id)
        found_block, element = find_element(open_view.view["blocks"], action_id, block_id, value)
        current, _ = view_state(open_view.view["blocks"], values, self.select)
        open_view.view["state"] = {"values": current}
        trigger = state.issue_trigger_locked(user, source_view=open_view.id)
        payload = payloads.block_actions_in_view(
            state.workspace,
            user,
            open_view.view,
            action=self._action(found_block, element, value),
            trigger_id=trigger.id,
        )
        return payload, trigger.id

    def _home_click(
        self,
        user: User,
        home: dict[str, Any],
        action_id: str,
        block_id: str | None,
        value: Any,
    ) -> tuple[dict[str, Any], str]:
        """A button on the person's Home tab: a view click (container type "view", the Home
        view whole, no response_url), as Slack sends one from a Home tab."""
        state = self.state
        found_block, element = find_element(home["blocks"], action_id, block_id, value)
        trigger = state.issue_trigger_locked(user, source_view=home["id"])
        payload = payloads.block_actions_in_view(
            state.workspace,
            user,
            home,
            action=self._action(found_block, element, value),
            trigger_id=trigger.id,
        )
        return payload, trigger.id

    # -- the App Home -----------------------------------------------------------------------

    def open_home(self, user_ref: Any, tab: str = "home") -> dict[str, Any]:
        """The person opens the app's Home (`tab` "home") or its Messages tab: Slack sends the
        app `app_home_opened`, with the Home's current view once one was published."""
        if tab not in ("home", "messages"):
            raise ControlError(400, "invalid_tab", "tab is home or messages")
        state = self.state
        with state.lock:
            user = self.member(user_ref)
            envelope = payloads.app_home_opened(
                state.workspace,
                user,
                state.dm_locked(user),
                tab=tab,
                view=state.homes.get(user.id),
            )
        reply = self.bot.post_event(envelope)
        self.state.log_interaction(
            {"kind": "app_home_opened", "user": user.id, "payload": envelope, **reply.to_json()}
        )
        with state.lock:
            return self._result(reply, home=state.home_json(user.id))

    # -- modals -----------------------------------------------------------------------------

    def submit(
        self, user_ref: Any, view_id: str | None = None, values: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        state = self.state
        with state.lock:
            user = self.member(user_ref)
            open_view = self._top_view(user, view_id)
            if not open_view.view.get("submit"):
                raise ControlError(400, "no_submit_button", f"{open_view.id} cannot be submitted")
            current, client_errors = view_state(open_view.view["blocks"], values or {}, self.select)
            open_view.view["state"] = {"values": current}
            open_view.alert = None
            if client_errors:
                # Slack's client refuses to send a form with empty required inputs.
                open_view.errors = client_errors
                state.touch_locked()
                return {
                    "ok": True,
                    "status": None,
                    "body": None,
                    "sent": False,
                    "errors": client_errors,
                    "view": open_view.to_json(),
                    "version": state.version,
                }
            open_view.errors = {}
            trigger = state.issue_trigger_locked(user, source_view=open_view.id)
            payload = payloads.view_submission(
                state.workspace, user, open_view.view, trigger_id=trigger.id
            )
        reply = self._send("view_submission", user, payload)
        with state.lock:
            outcome = self._apply_submission_ack(user, open_view, reply)
            stack = state.views.get(user.id) or []
            state.touch_locked()
            return self._result(
                reply,
                sent=True,
                trigger_id=trigger.id,
                **outcome,
                view=stack[-1].to_json() if stack else None,
            )

    def _apply_submission_ack(
        self, user: User, open_view: OpenView, reply: BotReply
    ) -> dict[str, Any]:
        state = self.state
        stack = state.stack_locked(user.id)
        if not reply.ok:
            open_view.alert = BOT_FAILED_ALERT
            return {"response_action": None, "errors": {}, "closed": False}
        body = reply.body if isinstance(reply.body, dict) else {}
        action = body.get("response_action")
        if action == "errors":
            errors = body.get("errors")
            items = errors.items() if isinstance(errors, dict) else ()
            open_view.errors = {str(k): str(v) for k, v in items}
            return {"response_action": action, "errors": open_view.errors, "closed": False}
        if action in ("update", "push"):
            new_view = body.get("view")
            view_errors, block_errors = validate_view(new_view)
            if not isinstance(new_view, dict) or view_errors or block_errors:
                open_view.alert = BOT_FAILED_ALERT
                return {
                    "response_action": action,
                    "errors": {},
                    "closed": False,
                    "invalid_view": view_errors + block_errors,
                }
            new_view = {**new_view, "blocks": ensure_ids(new_view.get("blocks") or [])}
            if action == "update":
                open_view.view = state.build_view_locked(
                    user.id,
                    new_view,
                    view_id=open_view.id,
                    root_view_id=open_view.view.get("root_view_id"),
                    previous_view_id=open_view.view.get("previous_view_id"),
                )
                open_view.errors = {}
            elif len(stack) < MAX_VIEW_STACK:
                stack.append(
                    OpenView(
                        user.id,
                        state.build_view_locked(
                            user.id,
                            new_view,
                            root_view_id=stack[0].id if stack else None,
                            previous_view_id=open_view.id,
                        ),
                    )
                )
            return {"response_action": action, "errors": {}, "closed": False}
        if action == "clear":
            stack.clear()
            return {"response_action": action, "errors": {}, "closed": True}
        if open_view in stack:
            stack.remove(open_view)
        return {"response_action": action, "errors": {}, "closed": True}

    def close(self, user_ref: Any, view_id: str | None = None) -> dict[str, Any]:
        state = self.state
        with state.lock:
            user = self.member(user_ref)
            open_view = self._top_view(user, view_id)
            stack = state.stack_locked(user.id)
            cleared = bool(open_view.view.get("clear_on_close"))
            closed = list(stack) if cleared else [open_view]
            for v in closed:
                stack.remove(v)
            state.touch_locked()
            notify = bool(open_view.view.get("notify_on_close"))
            payload = payloads.view_closed(state.workspace, user, open_view, is_cleared=cleared)
            closed_ids = [v.id for v in closed]
        if not notify:
            # Slack tells the app only when the view asked for it with notify_on_close.
            return {
                "ok": True,
                "status": None,
                "body": None,
                "sent": False,
                "closed": closed_ids,
                "version": state.version,
            }
        reply = self._send("view_closed", user, payload)
        return self._result(reply, sent=True, closed=closed_ids)

    # -- plain human actions ----------------------------------------------------------------

    def post(
        self, user_ref: Any, channel_ref: Any, text: str, thread_ts: str | None = None
    ) -> dict[str, Any]:
        """A person typing a message (the Events API is not emulated: the bot is not told)."""
        state = self.state
        if not text.strip():
            raise ControlError(400, "no_text", "say something")
        with state.lock:
            user = self.member(user_ref)
            channel = self._channel_for(user, channel_ref)
            parent = state.thread_parent_locked(channel, thread_ts) if thread_ts else None
            if thread_ts and parent is None:
                raise ControlError(404, "thread_not_found", thread_ts)
            message = state.post_locked(channel, user, text, [], parent=parent)
            return {
                "ok": True,
                "channel": channel.id,
                "ts": message.ts,
                "message": message.to_api(),
                "version": state.version,
            }

    def dismiss(self, user_ref: Any, channel_ref: Any, ts: str) -> dict[str, Any]:
        state = self.state
        with state.lock:
            user = self.member(user_ref)
            channel = self._channel_for(user, channel_ref)
            eph = state.ephemeral_locked(user.id, channel.id, ts)
            if eph is None:
                raise ControlError(404, "message_not_found", f"no ephemeral {ts} for {user.name}")
            state.ephemerals.remove(eph)
            state.touch_locked()
            return {"ok": True, "version": state.version}
