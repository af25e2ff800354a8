"""Notice fan-out at Slack's posting limit: N approval cards over C channels, none lost or doubled.

Slack allows about one message per second per channel (429 with Retry-After beyond it;
platform-facts C.4). N approvals start at once, spread over C channels; SSM publishes each notice
to its Automation* topic and the sandbox delivers them to the notice function concurrently, as
SNS does (and EventBridge's status events reach the result function, which posts a missing card
too). The Slack emulator enforces 1 message per second per channel with no burst. The bot's
Slack client waits out each Retry-After, for up to 40 s per post (bot/gateways/slack_client.py).

Reported: the time until the last card is in Slack against the floor of N/C seconds (every
channel posting one card per second from the start; a notice posts its card and nothing else),
cards lost (an execution without a card) and doubled (an execution with two). Targets (DESIGN.md
section 7): <= 1.2x the N/C floor, 0 lost, 0 doubled.

Beyond the four channels the template routes, the bench adds topics of its own (SNS ->
the notice function, as the template subscribes its level topics), each routed to one of the
emulator's quiet `fanout-N` channels through the notice function's SIGNOFF_CHANNEL_ROUTES.

    .venv/bin/python bench/fanout.py                  # 40 notices over 4 channels
    .venv/bin/python bench/fanout.py --wide           # and then 200 notices over 10 channels
    .venv/bin/python bench/fanout.py --notices 20 --channels 2
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from _sandbox import RunningSandbox, sandbox_from_args

TARGET_RATIO = 1.2
# The sandbox routes each level's topic to its own channel (infra/template.yaml, sandbox.demo).
ROUTES = [
    ("Level1TopicArn", "approvals-level1"),
    ("Level2TopicArn", "approvals-level2"),
    ("Level3TopicArn", "approvals-level3"),
    ("AccessKeyTopicArn", "approvals"),
]
MAX_CHANNELS = 10  # ROUTES and the emulator's fanout-5 ... fanout-10
WIDE = (200, 10)  # --wide: notices, channels


def routes_for(sandbox: RunningSandbox, count: int) -> list[tuple[str, str]]:
    """(topic ARN, channel name) for `count` channels: the template's, then topics of the
    bench's own, subscribed to the notice function and added to its channel routes."""
    routes = [(sandbox.outputs[key], channel) for key, channel in ROUTES[:count]]
    extra = range(len(ROUTES) + 1, count + 1)
    if not extra:
        return routes
    sns, lambdas = sandbox.aws("sns"), sandbox.aws("lambda")
    function = next(
        f
        for f in lambdas.list_functions()["Functions"]
        if f["Handler"] == "handlers.approval_notice.lambda_handler"
    )
    variables = dict(function["Environment"]["Variables"])
    table = json.loads(variables["SIGNOFF_CHANNEL_ROUTES"])
    for n in extra:
        name = f"Automation-bench-fanout-{n}"
        topic = sns.create_topic(Name=name)["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function["FunctionArn"])
        table[name] = f"C0FANOUT{n}"
        routes.append((topic, f"fanout-{n}"))
    variables["SIGNOFF_CHANNEL_ROUTES"] = json.dumps(table)
    lambdas.update_function_configuration(
        FunctionName=function["FunctionName"], Environment={"Variables": variables}
    )
    return routes


def cards_by_execution(
    sandbox: RunningSandbox, channels: list[str], ids: list[str]
) -> Counter[str]:
    """How many cards (top-level messages with blocks) name each execution."""
    counts: Counter[str] = Counter()
    for channel in channels:
        for message in sandbox.control("GET", "messages", params={"channel": channel})["messages"]:
            text = json.dumps(message.get("blocks") or [])
            for execution_id in ids:
                if execution_id in text:
                    counts[execution_id] += 1
    return counts


def card_times(sandbox: RunningSandbox, channels: list[str]) -> list[float]:
    """When each card was posted (its ts), oldest first."""
    return sorted(
        float(message["ts"])
        for channel in channels
        for message in sandbox.control("GET", "messages", params={"channel": channel})["messages"]
        if message.get("blocks")
    )


def run(sandbox: RunningSandbox, notices: int, channel_count: int, timeout: float) -> int:
    routes = routes_for(sandbox, channel_count)
    channels = [channel for _, channel in routes]
    sandbox.control("POST", "config", json={"post_message_rate_limit": 1, "rate_limit_burst": 1})
    ssm = sandbox.aws("ssm")
    document = sandbox.outputs["ApprovalDocumentName"]
    role = sandbox.role_arn("Level1ApproverRole")
    floor = notices / channel_count
    print(f"{notices} notices over {channel_count} channels at 1 message/s/channel", flush=True)

    def start(n: int) -> str:
        return str(
            ssm.start_automation_execution(
                DocumentName=document,
                Parameters={
                    "Description": ["Fan-out benchmark"],
                    "Message": [f"fan-out {n}"],
                    "NotificationArn": [routes[n % channel_count][0]],
                    "Approvers": [role],
                },
            )["AutomationExecutionId"]
        )

    began = time.time()
    with ThreadPoolExecutor(max_workers=8) as pool:  # all at once, as a burst of runbooks would
        ids = list(pool.map(start, range(notices)))
    started = time.time() - began
    deadline = began + timeout
    while time.time() < deadline:
        counts = cards_by_execution(sandbox, channels, ids)
        if len(counts) == notices or (time.time() - began > 5 and sandbox.idle()):
            break  # every card is in, or nothing is left trying (a card is lost)
        time.sleep(0.5)
    times = card_times(sandbox, channels)
    wall = times[-1] - began if times else float("inf")
    sandbox.settle(timeout=max(60.0, timeout))  # let stragglers (retries) finish: doubles show
    counts = cards_by_execution(sandbox, channels, ids)
    lost = [e for e in ids if counts[e] == 0]
    doubled = [e for e in ids if counts[e] > 1]
    calls = sandbox.control("GET", "calls", params={"method": "chat.postMessage"})["calls"]
    limited = sum(1 for c in calls if c["status"] == 429)

    print()
    print(f"last card posted after {wall:.1f} s; floor {floor:.1f} s (N/C) -> {wall / floor:.2f}x")
    if times:
        print(
            f"  the {notices} executions were started within {started:.1f} s; "
            f"first card after {times[0] - began:.1f} s"
        )
        if floor > 1:
            pace = (times[-1] - times[0]) / (floor - 1)
            print(f"  from the first card to the last: {pace:.2f} s per card per channel")
    posted = notices - len(lost)
    print(f"cards: {posted} of {notices} posted, {len(lost)} lost, {len(doubled)} doubled")
    print(f"chat.postMessage: {len(calls)} calls, {limited} answered 429 (Retry-After)")
    if lost:
        print(f"  lost (left to the reconciler, every 5 min): {len(lost)}")
    met = wall / floor <= TARGET_RATIO and not lost and not doubled
    print(
        f"RESULT ({notices} over {channel_count}):",
        "meets the targets" if met else "MISSES the targets",
        f"(<= {TARGET_RATIO}x, none lost or doubled)",
    )
    return 0 if met else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notices", type=int, default=40, help="approval notices, N (40)")
    parser.add_argument(
        "--channels", type=int, default=4, choices=range(1, MAX_CHANNELS + 1), help="C (4)"
    )
    parser.add_argument(
        "--wide",
        action="store_true",
        help=f"then {WIDE[0]} notices over {WIDE[1]} channels, in a fresh sandbox",
    )
    parser.add_argument("--timeout", type=float, default=180, help="give up after (180 s)")
    parser.add_argument("--aws-url", help="a running sandbox's AWS endpoint (else start one)")
    parser.add_argument("--slack-url", help="a running sandbox's Slack emulator")
    args = parser.parse_args()
    scenarios = [(args.notices, args.channels)] + ([WIDE] if args.wide else [])
    worst = 0
    for notices, channels in scenarios:
        # A sandbox each: the second scenario's cards and 429s are its own.
        sandbox = sandbox_from_args(args.aws_url, args.slack_url)
        try:
            worst = max(worst, run(sandbox, notices, channels, args.timeout))
        finally:
            sandbox.stop()
    return worst


if __name__ == "__main__":
    sys.exit(main())
