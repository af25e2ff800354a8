"""`python -m sandbox.slack`: run the Slack emulator alone (optionally with the demo bot)."""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
import threading
from collections.abc import Sequence

from sandbox.slack.demo_bot import serve_demo_bot
from sandbox.slack.emulator import SlackEmulator

# Local-only credentials: the emulator is the only party that ever sees them.
DEV_TOKEN = "xoxb-sandbox-not-a-real-token"
DEV_SECRET = "sandbox-signing-secret"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.slack", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument(
        "--bot-url", help="the app's Request URL, e.g. http://127.0.0.1:3001/slack/events"
    )
    parser.add_argument("--bot-token", default=DEV_TOKEN)
    parser.add_argument("--signing-secret", default=DEV_SECRET)
    parser.add_argument(
        "--rate-limit", type=float, default=None, help="chat.postMessage messages/s/channel"
    )
    parser.add_argument(
        "--demo-bot", action="store_true", help="also run the demo bot (try /demo) and use it"
    )
    parser.add_argument(
        "--exit-with-stdin",
        action="store_true",
        help="stop when standard input closes (how `signoff sandbox` ties it to itself)",
    )
    args = parser.parse_args(argv)
    if args.exit_with_stdin:
        threading.Thread(target=_exit_at_end_of_stdin, name="stdin-watch", daemon=True).start()
    emulator = SlackEmulator(
        bot_url=args.bot_url,
        signing_secret=args.signing_secret,
        bot_token=args.bot_token,
        post_message_rate_limit=args.rate_limit,
        public_url=f"http://{args.host}:{args.port}",
    )
    demo = None
    if args.demo_bot:
        demo = serve_demo_bot(
            api_url=emulator.api_url, bot_token=args.bot_token, signing_secret=args.signing_secret
        )
        emulator.configure(bot_url=f"{demo.url}/slack/events")
    print(f"Slack emulator on http://{args.host}:{args.port}/ (Web API at {emulator.api_url})")
    # What start-up built lives as long as the process: frozen, a full collection no longer
    # walks it, and stalls every request in flight for less (as `signoff sandbox` does).
    gc.collect()
    gc.freeze()
    try:
        emulator.serve(args.host, args.port)
    finally:
        if demo is not None:
            demo.stop()
    return 0


def _exit_at_end_of_stdin() -> None:
    sys.stdin.buffer.read()
    os.kill(os.getpid(), signal.SIGTERM)


if __name__ == "__main__":
    raise SystemExit(main())
