from datetime import timedelta

import pytest

from bot.config import DEFAULT_SLACK_API_URL, Settings, aws_region, slack_api_url
from bot.errors import ConfigError
from bot.wiring import SlackCredentials

BASE = {
    "AWS_REGION": "us-east-1",
    "SIGNOFF_APPROVALS_TABLE": "approvals",
    "SIGNOFF_AUDIT_TABLE": "audit",
    "SIGNOFF_IDENTITIES_TABLE": "identities",
    "SIGNOFF_IDEMPOTENCY_TABLE": "idempotency",
    "SIGNOFF_DEFAULT_CHANNEL": "C0DEFAULT",
    "SLACK_BOT_TOKEN": "xoxb-test-not-a-real-token",
    "SLACK_SIGNING_SECRET": "test-signing-secret",
}


def test_reads_every_setting_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            **BASE,
            "SIGNOFF_CHANNEL_ROUTES": '{"AutomationLevel1": "C0LEVEL1"}',
            "SIGNOFF_REMINDER_BEFORE_SECONDS": "600",
            "SIGNOFF_ADMINS": "U0ADMIN1, U0ADMIN2",
        }
    )
    assert settings.approvals_table == "approvals"
    assert settings.reminder_before == timedelta(minutes=10)
    assert settings.admins == frozenset({"U0ADMIN1", "U0ADMIN2"})


def test_names_every_missing_variable() -> None:
    env = {k: v for k, v in BASE.items() if k not in {"SIGNOFF_AUDIT_TABLE", "AWS_REGION"}}
    with pytest.raises(ConfigError) as excinfo:
        Settings.from_env(env)
    assert "SIGNOFF_AUDIT_TABLE" in str(excinfo.value)
    assert "AWS_REGION" in str(excinfo.value)
    assert "SIGNOFF_APPROVALS_TABLE" not in str(excinfo.value)


def test_requires_slack_credentials_from_a_secret_or_plain_variables() -> None:
    env = {k: v for k, v in BASE.items() if not k.startswith("SLACK_")}
    with pytest.raises(ConfigError, match="SLACK_SECRET_ARN"):
        Settings.from_env(env).require_slack()
    Settings.from_env({**env, "SLACK_SECRET_ARN": "arn:aws:secretsmanager:x"}).require_slack()


def test_routes_by_topic_arn_topic_name_or_document() -> None:
    settings = Settings.from_env(
        {**BASE, "SIGNOFF_CHANNEL_ROUTES": '{"AutomationLevel2": "C0L2", "Doc": "C0DOC"}'}
    )
    topic = "arn:aws:sns:us-east-1:123456789012:AutomationLevel2"
    assert settings.channel_for(topic, "Other") == "C0L2"
    assert settings.channel_for(None, "Doc") == "C0DOC"
    assert settings.channel_for("arn:aws:sns:us-east-1:123456789012:Elsewhere") == "C0DEFAULT"


def test_malformed_routes_say_what_is_expected() -> None:
    with pytest.raises(ConfigError, match="SIGNOFF_CHANNEL_ROUTES is not JSON"):
        Settings.from_env({**BASE, "SIGNOFF_CHANNEL_ROUTES": "{level1: C0}"})


def test_cards_are_paced_at_slacks_rate_unless_told_otherwise() -> None:
    assert Settings.from_env(BASE).slack_post_spacing == timedelta(milliseconds=1050)
    paced = Settings.from_env({**BASE, "SIGNOFF_SLACK_POST_SPACING_MS": "0"})
    assert paced.slack_post_spacing == timedelta(0)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("1.5", "must be a whole number of milliseconds, got '1.5'"),
        ("-1", "must be 0 to 10000 milliseconds, got -1"),
        ("60000", "must be 0 to 10000 milliseconds, got 60000"),
    ],
)
def test_a_bad_post_spacing_names_the_variable_and_the_range(raw: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=f"SIGNOFF_SLACK_POST_SPACING_MS {problem}"):
        Settings.from_env({**BASE, "SIGNOFF_SLACK_POST_SPACING_MS": raw})


def test_the_slack_tokens_of_a_local_run_never_show_in_a_repr() -> None:
    settings = Settings.from_env(BASE)
    shown = repr(settings)
    assert "xoxb-test-not-a-real-token" not in shown
    assert "test-signing-secret" not in shown
    assert "slack_bot_token='**********'" in shown
    assert "approvals_table='approvals'" in shown
    credentials = SlackCredentials(bot_token="xoxb-test-not-a-real-token", signing_secret="s3")
    assert "xoxb" not in repr(credentials)
    assert "s3" not in repr(credentials)


def test_the_slack_workspace_and_app_are_read_and_checked() -> None:
    settings = Settings.from_env(
        {**BASE, "SIGNOFF_SLACK_TEAM_ID": "T0TEAM", "SIGNOFF_SLACK_APP_ID": "A0APP"}
    )
    assert (settings.require_workspace(), settings.slack_app_id) == ("T0TEAM", "A0APP")
    assert Settings.from_env({**BASE, "SIGNOFF_SLACK_APP_ID": ""}).slack_app_id is None
    for name, bad in (("SIGNOFF_SLACK_TEAM_ID", "U0ALICE"), ("SIGNOFF_SLACK_APP_ID", "a0app")):
        with pytest.raises(ConfigError, match=name):
            Settings.from_env({**BASE, name: bad})


def test_the_slack_function_cannot_start_without_its_workspace() -> None:
    with pytest.raises(ConfigError, match="SIGNOFF_SLACK_TEAM_ID"):
        Settings.from_env(BASE).require_workspace()


def test_the_commands_read_the_region_and_slack_url_without_the_rest_of_settings() -> None:
    # `signoff doctor --stack` runs where no table variable is set.
    assert aws_region({"AWS_DEFAULT_REGION": "eu-west-1"}) == "eu-west-1"
    assert aws_region({"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "eu-west-1"}) == "us-east-1"
    assert aws_region({}) is None
    assert slack_api_url({}) == DEFAULT_SLACK_API_URL
    assert slack_api_url({"SLACK_API_URL": "http://127.0.0.1:3000/api/"}) == (
        "http://127.0.0.1:3000/api/"
    )
    assert Settings.from_env({**BASE, "SLACK_API_URL": "http://x/api/"}).slack_api_url == (
        "http://x/api/"
    )


def test_signoff_devs_app_token_is_read_and_never_shows_in_a_repr() -> None:
    settings = Settings.from_env({**BASE, "SLACK_APP_TOKEN": "xapp-test-not-a-real-token"})

    assert settings.slack_app_token == "xapp-test-not-a-real-token"
    assert "xapp-test" not in repr(settings)
    assert "slack_app_token='**********'" in repr(settings)
