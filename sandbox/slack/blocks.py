"""Block Kit checks Slack makes on the way in, so a bad card fails in the sandbox, not in Slack.

Only what Slack rejects cheaply and deterministically is checked: block and element types, the
documented length limits (the same numbers `slack_sdk.models` encodes), counts and unique ids.
Each problem is reported like Slack's `response_metadata.messages`, with a JSON pointer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

MESSAGE_BLOCK_LIMIT: Final = 50
VIEW_BLOCK_LIMIT: Final = 100
MESSAGE_TEXT_LIMIT: Final = 40_000

KNOWN_BLOCKS: Final = frozenset(
    {
        "actions",
        "context",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "video",
    }
)
INTERACTIVE_ELEMENTS: Final = frozenset(
    {
        "button",
        "checkboxes",
        "channels_select",
        "conversations_select",
        "datepicker",
        "datetimepicker",
        "email_text_input",
        "external_select",
        "multi_channels_select",
        "multi_conversations_select",
        "multi_external_select",
        "multi_static_select",
        "multi_users_select",
        "number_input",
        "overflow",
        "plain_text_input",
        "radio_buttons",
        "static_select",
        "timepicker",
        "url_text_input",
        "users_select",
        "workflow_button",
        "rich_text_input",
        "file_input",
    }
)
INPUT_ELEMENTS: Final = INTERACTIVE_ELEMENTS - {"button", "overflow", "workflow_button"}


class _Checker:
    """Collects every problem rather than stopping at the first, as Slack's messages do."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, pointer: str, message: str) -> None:
        self.errors.append(f"[ERROR] {message} [json-pointer:{pointer}]")

    def text(
        self,
        obj: Any,
        pointer: str,
        *,
        limit: int,
        plain_only: bool = False,
        required: bool = True,
    ) -> None:
        if obj is None:
            if required:
                self.fail(pointer, "missing required field")
            return
        if not isinstance(obj, dict):
            self.fail(pointer, "must be a text object")
            return
        kind = obj.get("type")
        allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
        if kind not in allowed:
            self.fail(f"{pointer}/type", f"must be one of {', '.join(allowed)}")
        text = obj.get("text")
        if not isinstance(text, str) or not text:
            self.fail(f"{pointer}/text", "must be a non-empty string")
        elif len(text) > limit:
            self.fail(f"{pointer}/text", f"must be less than {limit + 1} characters")

    def string(self, value: Any, pointer: str, *, limit: int, required: bool = False) -> None:
        if value is None:
            if required:
                self.fail(pointer, "missing required field")
            return
        if not isinstance(value, str):
            self.fail(pointer, "must be a string")
        elif len(value) > limit:
            self.fail(pointer, f"must be less than {limit + 1} characters")

    def confirm(self, obj: Any, pointer: str) -> None:
        if obj is None:
            return
        if not isinstance(obj, dict):
            self.fail(pointer, "must be a confirmation object")
            return
        self.text(obj.get("title"), f"{pointer}/title", limit=100, plain_only=True)
        self.text(obj.get("text"), f"{pointer}/text", limit=300)
        self.text(obj.get("confirm"), f"{pointer}/confirm", limit=30, plain_only=True)
        self.text(obj.get("deny"), f"{pointer}/deny", limit=30, plain_only=True)

    def options(self, options: Any, pointer: str, *, limit: int = 100) -> None:
        if not isinstance(options, list) or not options:
            self.fail(pointer, "must be a non-empty array")
            return
        if len(options) > limit:
            self.fail(pointer, f"must have at most {limit} items")
        for i, option in enumerate(options):
            here = f"{pointer}/{i}"
            if not isinstance(option, dict):
                self.fail(here, "must be an option object")
                continue
            self.text(option.get("text"), f"{here}/text", limit=75)
            self.string(option.get("value"), f"{here}/value", limit=150, required=True)

    def element(self, el: Any, pointer: str, *, allowed: Iterable[str]) -> None:
        if not isinstance(el, dict):
            self.fail(pointer, "must be an element object")
            return
        kind = el.get("type")
        allowed = frozenset(allowed)
        if kind == "image":
            if "image" in allowed:
                self.string(el.get("alt_text"), f"{pointer}/alt_text", limit=2000, required=True)
            else:
                self.fail(f"{pointer}/type", "image is not allowed here")
            return
        if not isinstance(kind, str) or kind not in allowed:
            self.fail(f"{pointer}/type", f"unknown or disallowed element type {kind!r}")
            return
        self.string(el.get("action_id"), f"{pointer}/action_id", limit=255)
        self.confirm(el.get("confirm"), f"{pointer}/confirm")
        if kind == "button":
            self.text(el.get("text"), f"{pointer}/text", limit=75, plain_only=True)
            self.string(el.get("value"), f"{pointer}/value", limit=2000)
            self.string(el.get("url"), f"{pointer}/url", limit=3000)
            style = el.get("style")
            if style is not None and style not in ("primary", "danger"):
                self.fail(f"{pointer}/style", "must be one of primary, danger")
        elif kind in ("static_select", "multi_static_select", "radio_buttons", "checkboxes"):
            if "option_groups" not in el:
                self.options(el.get("options"), f"{pointer}/options")
        elif kind == "overflow":
            self.options(el.get("options"), f"{pointer}/options", limit=5)
        elif kind == "plain_text_input":
            self.string(el.get("initial_value"), f"{pointer}/initial_value", limit=3000)
            max_length = el.get("max_length")
            if max_length is not None and (not isinstance(max_length, int) or max_length > 3000):
                self.fail(f"{pointer}/max_length", "must be an integer up to 3000")

    def block(self, block: Any, pointer: str) -> None:
        if not isinstance(block, dict):
            self.fail(pointer, "must be a block object")
            return
        kind = block.get("type")
        if not isinstance(kind, str) or kind not in KNOWN_BLOCKS:
            self.fail(f"{pointer}/type", f"unknown block type {kind!r}")
            return
        self.string(block.get("block_id"), f"{pointer}/block_id", limit=255)
        check = getattr(self, f"_{kind}", None)
        if check is not None:
            check(block, pointer)

    def _section(self, block: dict[str, Any], pointer: str) -> None:
        fields = block.get("fields")
        if block.get("text") is None and fields is None:
            self.fail(pointer, "a section needs text or fields")
        self.text(block.get("text"), f"{pointer}/text", limit=3000, required=False)
        if fields is not None:
            if not isinstance(fields, list) or not fields:
                self.fail(f"{pointer}/fields", "must be a non-empty array")
            else:
                if len(fields) > 10:
                    self.fail(f"{pointer}/fields", "must have at most 10 items")
                for i, f in enumerate(fields):
                    self.text(f, f"{pointer}/fields/{i}", limit=2000)
        if block.get("accessory") is not None:
            self.element(
                block["accessory"],
                f"{pointer}/accessory",
                allowed=INTERACTIVE_ELEMENTS | {"image"},
            )

    def _header(self, block: dict[str, Any], pointer: str) -> None:
        self.text(block.get("text"), f"{pointer}/text", limit=150, plain_only=True)

    def _context(self, block: dict[str, Any], pointer: str) -> None:
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            self.fail(f"{pointer}/elements", "must be a non-empty array")
            return
        if len(elements) > 10:
            self.fail(f"{pointer}/elements", "must have at most 10 items")
        for i, el in enumerate(elements):
            here = f"{pointer}/elements/{i}"
            if isinstance(el, dict) and el.get("type") == "image":
                self.element(el, here, allowed={"image"})
            else:
                self.text(el, here, limit=3000)

    def _actions(self, block: dict[str, Any], pointer: str) -> None:
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            self.fail(f"{pointer}/elements", "must be a non-empty array")
            return
        if len(elements) > 25:
            self.fail(f"{pointer}/elements", "must have at most 25 items")
        seen: set[str] = set()
        for i, el in enumerate(elements):
            self.element(el, f"{pointer}/elements/{i}", allowed=INTERACTIVE_ELEMENTS)
            action_id = el.get("action_id") if isinstance(el, dict) else None
            if isinstance(action_id, str):
                if action_id in seen:
                    self.fail(f"{pointer}/elements/{i}/action_id", "must be unique in the block")
                seen.add(action_id)

    def _image(self, block: dict[str, Any], pointer: str) -> None:
        if block.get("image_url") is None and block.get("slack_file") is None:
            self.fail(f"{pointer}/image_url", "missing required field")
        self.string(block.get("image_url"), f"{pointer}/image_url", limit=3000)
        self.string(block.get("alt_text"), f"{pointer}/alt_text", limit=2000, required=True)
        self.text(block.get("title"), f"{pointer}/title", limit=2000, required=False)

    def _input(self, block: dict[str, Any], pointer: str) -> None:
        self.text(block.get("label"), f"{pointer}/label", limit=2000, plain_only=True)
        self.text(block.get("hint"), f"{pointer}/hint", limit=2000, plain_only=True, required=False)
        if block.get("element") is None:
            self.fail(f"{pointer}/element", "missing required field")
        else:
            self.element(block["element"], f"{pointer}/element", allowed=INPUT_ELEMENTS)

    def _markdown(self, block: dict[str, Any], pointer: str) -> None:
        self.string(block.get("text"), f"{pointer}/text", limit=12_000, required=True)

    def _rich_text(self, block: dict[str, Any], pointer: str) -> None:
        if not isinstance(block.get("elements"), list):
            self.fail(f"{pointer}/elements", "must be an array")


def validate_blocks(
    blocks: Any, *, limit: int = MESSAGE_BLOCK_LIMIT, pointer: str = ""
) -> list[str]:
    """Problems Slack would report as `invalid_blocks`; empty when the blocks would be accepted."""
    checker = _Checker()
    if not isinstance(blocks, list):
        checker.fail(pointer or "/", "blocks must be an array")
        return checker.errors
    if len(blocks) > limit:
        checker.fail(pointer or "/", f"must have at most {limit} blocks")
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        checker.block(block, f"{pointer}/{i}")
        block_id = block.get("block_id") if isinstance(block, dict) else None
        if isinstance(block_id, str):
            if block_id in block_ids:
                checker.fail(f"{pointer}/{i}/block_id", "block_id must be unique")
            block_ids.add(block_id)
    return checker.errors


def validate_view(view: Any) -> tuple[list[str], list[str]]:
    """(view problems → `invalid_arguments`, block problems → `invalid_blocks`) for views.*."""
    checker = _Checker()
    if not isinstance(view, dict):
        checker.fail("/view", "must be a view object")
        return checker.errors, []
    kind = view.get("type")
    if kind not in ("modal", "home"):
        checker.fail("/view/type", "must be one of modal, home")
    if kind == "modal":
        checker.text(view.get("title"), "/view/title", limit=24, plain_only=True)
        checker.text(view.get("close"), "/view/close", limit=24, plain_only=True, required=False)
        checker.text(view.get("submit"), "/view/submit", limit=24, plain_only=True, required=False)
        blocks = view.get("blocks")
        has_input = isinstance(blocks, list) and any(
            isinstance(b, dict) and b.get("type") == "input" for b in blocks
        )
        if has_input and view.get("submit") is None:
            # Slack refuses a modal with inputs but no submit button: nobody could send them.
            checker.fail("/view/submit", "a modal with input blocks needs a submit button")
    checker.string(view.get("callback_id"), "/view/callback_id", limit=255)
    checker.string(view.get("private_metadata"), "/view/private_metadata", limit=3000)
    checker.string(view.get("external_id"), "/view/external_id", limit=255)
    block_errors = validate_blocks(
        view.get("blocks"), limit=VIEW_BLOCK_LIMIT, pointer="/view/blocks"
    )
    return checker.errors, block_errors
