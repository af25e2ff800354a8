"""`signoff doctor` against a moto account: ✓ for a healthy deployment, and for each thing an
operator can get wrong, a ✗ that names it and says how to fix it."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.error import URLError

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from moto import mock_aws

import sandbox.aws
from bot import cli
from bot.doctor import (
    REQUIRED_BOT_SCOPES,
    Doctor,
    Finding,
    SlackAuthTest,
    Target,
    slack_auth_test,
    target_from_outputs,
)
from bot.doctor.roles import RoleChecks
from bot.gateways.dynamo import TableAt
from sandbox.slack.emulator import SlackEmulator
from tests.support.dynamo import create_table

REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK = "prod"
SECRET = f"signoff/{STACK}/slack"
TABLES = {
    label: f"{STACK}-{label}" for label in ("approvals", "audit", "identities", "idempotency")
}
GOOD_SECRET = {"bot_token": "xoxb-1-2-3", "signing_secret": "s3cr3t"}


def trust(principal: str, **condition: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"],
    }
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def allow(actions: list[str], resource: str) -> str:
    statement = {"Effect": "Allow", "Action": actions, "Resource": resource}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@dataclass
class Account:
    """A deployed Signoff in moto, healthy until a test breaks one thing."""

    session: boto3.Session
    bot_role_arn: str
    approver_role_arn: str
    function_arn: str
    topic_arn: str
    secret_arn: str

    def client(self, service: str) -> Any:
        return self.session.client(service)

    def target(self, **changes: Any) -> Target:
        fields: dict[str, Any] = {
            "tables": TABLES,
            "slack_secret_arn": self.secret_arn,
            "bot_role_arn": self.bot_role_arn,
            "notice_function_arn": self.function_arn,
            "topic_arns": (self.topic_arn,),
        }
        fields.update(changes)
        return Target(**fields)

    def map_user(self, slack_user_id: str, role_arn: str, name: str = "Alice") -> None:
        self.client("dynamodb").put_item(
            TableName=TABLES["identities"],
            Item={
                "slack_user_id": {"S": slack_user_id},
                "display_name": {"S": name},
                "role_arn": {"S": role_arn},
            },
        )

    def identities(self) -> list[Any]:
        from bot.gateways.tables import IdentityStore

        table = TableAt(self.session.client("dynamodb"), TABLES["identities"])
        return IdentityStore(table).all()

    def doctor(self, slack_auth_test: SlackAuthTest | None = None) -> Doctor:
        return Doctor(
            secrets=self.client("secretsmanager"),
            dynamodb=self.client("dynamodb"),
            iam=self.client("iam"),
            sns=self.client("sns"),
            lambda_client=self.client("lambda"),
            region=str(self.session.region_name),
            slack_auth_test=slack_auth_test,
        )

    def findings(self, slack: SlackAuthTest | None = None, **changes: Any) -> list[Finding]:
        return self.doctor(slack).run(self.target(**changes), self.identities)


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handlers/approval_notice.py", "def lambda_handler(e, c): return 0\n")
    return buffer.getvalue()


@pytest.fixture
def account() -> Iterator[Account]:
    yield from deployed(REGION)


PARTITIONS = {"us-east-1": "aws", "cn-north-1": "aws-cn"}


def deployed(region: str) -> Iterator[Account]:
    """A healthy deployment in `region` (and so in its partition)."""
    # The sandbox answers IAM's policy simulator, which moto lacks.
    sandbox.aws.install()
    with mock_aws():
        session = boto3.Session(region_name=region)
        secrets = session.client("secretsmanager")
        secret_arn = secrets.create_secret(Name=SECRET, SecretString=json.dumps(GOOD_SECRET))["ARN"]
        dynamodb = session.client("dynamodb")
        for label, name in TABLES.items():
            create_table(dynamodb, label, name)
        iam = session.client("iam")
        lambda_trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        bot = iam.create_role(
            RoleName="prod-bot", AssumeRolePolicyDocument=json.dumps(lambda_trust)
        )
        bot_arn = bot["Role"]["Arn"]
        approver = iam.create_role(
            RoleName="prod-level1-approver",
            AssumeRolePolicyDocument=json.dumps(
                trust(bot_arn, StringLike={"sts:SourceIdentity": ["U*", "W*"]})
            ),
        )
        approver_arn = approver["Role"]["Arn"]
        policy = iam.create_policy(
            PolicyName="prod-assume-approvers",
            PolicyDocument=allow(["sts:AssumeRole", "sts:SetSourceIdentity"], approver_arn),
        )
        iam.attach_role_policy(RoleName="prod-bot", PolicyArn=policy["Policy"]["Arn"])
        iam.put_role_policy(
            RoleName="prod-level1-approver",
            PolicyName="send-decision",
            PolicyDocument=allow(
                ["ssm:SendAutomationSignal"],
                f"arn:{PARTITIONS[region]}:ssm:{region}:{ACCOUNT}:automation-execution/*",
            ),
        )
        function_arn = session.client("lambda").create_function(
            FunctionName="prod-approval-notice",
            Runtime="python3.12",
            Role=bot_arn,
            Handler="handlers.approval_notice.lambda_handler",
            Code={"ZipFile": _zip()},
        )["FunctionArn"]
        sns = session.client("sns")
        topic_arn = sns.create_topic(Name="Automation-prod-Level1")["TopicArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="lambda", Endpoint=function_arn)
        session.client("lambda").add_permission(
            FunctionName="prod-approval-notice",
            StatementId="sns-level1",
            Action="lambda:InvokeFunction",
            Principal="sns.amazonaws.com",
            SourceArn=topic_arn,
        )
        world = Account(session, bot_arn, approver_arn, function_arn, topic_arn, secret_arn)
        world.map_user("U0ALICE", approver_arn)
        yield world


def wrong(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if not f.ok]


def test_a_healthy_deployment_is_all_ticks(account: Account) -> None:
    findings = account.findings()

    assert wrong(findings) == []
    subjects = [f.subject for f in findings]
    assert subjects[0] == f"Slack secret {account.secret_arn}"
    assert subjects[1:8] == [
        f"approvals table {TABLES['approvals']}",
        f"approvals table {TABLES['approvals']} index Open",
        f"approvals table {TABLES['approvals']} index Requester",
        f"audit table {TABLES['audit']}",
        f"audit table {TABLES['audit']} index Person",
        f"identities table {TABLES['identities']}",
        f"idempotency table {TABLES['idempotency']}",
    ]
    assert f"U0ALICE (Alice) → {account.approver_role_arn}" in subjects
    assert f"topic {account.topic_arn}" in subjects


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackEmulator]:
    """A Slack whose installed app has the secret's bot token; SLACK_API_URL points at it."""
    emulator = SlackEmulator(signing_secret="s3cr3t", bot_token=GOOD_SECRET["bot_token"])
    emulator.start("127.0.0.1", 0)
    monkeypatch.setenv("SLACK_API_URL", f"{emulator.url}/api/")
    try:
        yield emulator
    finally:
        emulator.stop()


def test_the_bot_token_and_its_scopes_are_checked_with_slack(
    account: Account, slack: SlackEmulator
) -> None:
    findings = account.findings(slack=slack_auth_test)

    assert wrong(findings) == []
    assert [f.render() for f in findings[1:3]] == [
        "✓ Slack app: the bot token works (signoff in Signoff Sandbox)",
        f"✓ Slack app scopes: {', '.join(REQUIRED_BOT_SCOPES)}",
    ]


def test_an_app_installed_without_the_history_scopes_is_told_what_to_add(
    account: Account, slack: SlackEmulator
) -> None:
    slack.configure(scopes=["chat:write", "commands", "im:write"])

    [finding] = wrong(account.findings(slack=slack_auth_test))

    assert finding.subject == "Slack app scopes"
    assert finding.detail == "missing channels:history, groups:history"
    assert "reinstall the app" in finding.fix


def test_a_bot_token_slack_refuses_is_reported_and_never_shown(
    account: Account, slack: SlackEmulator
) -> None:
    account.client("secretsmanager").put_secret_value(
        SecretId=SECRET, SecretString=json.dumps({**GOOD_SECRET, "bot_token": "xoxb-revoked"})
    )

    [finding] = wrong(account.findings(slack=slack_auth_test))

    assert finding.render().startswith("✗ Slack app: Slack refused the bot token (invalid_auth)")
    assert "xoxb-revoked" not in finding.render()


def test_slack_out_of_reach_is_a_finding_not_a_crash(account: Account) -> None:
    def unreachable(token: str) -> Any:
        raise URLError("Name or service not known")

    [finding] = wrong(account.findings(slack=unreachable))

    assert finding.detail == "could not reach Slack (<urlopen error Name or service not known>)"
    assert "--skip-slack" in finding.fix


def test_an_empty_secret_says_how_to_fill_it(account: Account) -> None:
    empty = account.client("secretsmanager").create_secret(Name="signoff/prod/empty")["ARN"]

    [finding] = wrong(account.findings(slack_secret_arn=empty))

    assert finding.detail == "exists but was never filled"
    assert finding.fix.startswith(f"aws secretsmanager put-secret-value --secret-id {empty}")
    assert '"bot_token":"xoxb-…","signing_secret":"…"' in finding.fix


def test_a_secret_missing_a_key_names_the_key_and_never_its_values(account: Account) -> None:
    account.client("secretsmanager").put_secret_value(
        SecretId=SECRET, SecretString=json.dumps({"bot_token": "xoxb-very-secret"})
    )

    [finding] = wrong(account.findings())

    assert finding.detail == "has no signing_secret"
    assert "very-secret" not in finding.render()


def test_a_user_token_in_the_secret_is_caught(account: Account) -> None:
    account.client("secretsmanager").put_secret_value(
        SecretId=SECRET, SecretString=json.dumps({**GOOD_SECRET, "bot_token": "xoxp-user"})
    )

    [finding] = wrong(account.findings())

    assert "not a bot token" in finding.detail
    assert "xoxp-user" not in finding.render()


def test_an_approvals_table_without_its_indexes_is_told_to_deploy_the_template(
    account: Account,
) -> None:
    # A stack deployed before the index: the table as it was then, keys only.
    dynamodb = account.client("dynamodb")
    dynamodb.delete_table(TableName=TABLES["approvals"])
    keys = [("pk", "HASH"), ("sk", "RANGE")]
    dynamodb.create_table(
        TableName=TABLES["approvals"],
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k, _ in keys],
        KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in keys],
    )

    open_index, requester = wrong(account.findings())

    assert open_index.subject == f"approvals table {TABLES['approvals']} index Open"
    assert "reconciler cannot find open cards" in open_index.detail
    assert requester.subject == f"approvals table {TABLES['approvals']} index Requester"
    assert "Home tab cannot list a person's key requests" in requester.detail
    for finding in (open_index, requester):
        assert finding.fix == "deploy the current infra/template.yaml"


def test_a_missing_table_is_named_with_its_variable(account: Account) -> None:
    account.client("dynamodb").delete_table(TableName=TABLES["audit"])

    [finding] = wrong(account.findings())

    assert finding.subject == f"audit table {TABLES['audit']}"
    assert finding.detail == "does not exist"
    assert "SIGNOFF_AUDIT_TABLE" in finding.fix


def test_the_output_says_what_iams_simulator_was_asked(account: Account) -> None:
    [note] = [f for f in account.findings() if f.subject == "approver roles"]

    assert note.ok
    assert note.detail.startswith("asked IAM's policy simulator about the bot role's policies")
    assert "SimulatePrincipalPolicy" in note.detail
    assert "SimulateCustomPolicy" in note.detail


def test_a_role_that_does_not_trust_the_bot_gets_the_statement_to_add(account: Account) -> None:
    other = account.client("iam").create_role(
        RoleName="someone-elses",
        AssumeRolePolicyDocument=json.dumps(trust(f"arn:aws:iam::{ACCOUNT}:role/x")),
    )["Role"]["Arn"]
    account.client("iam").put_role_policy(
        RoleName="prod-bot", PolicyName="also", PolicyDocument=allow(["sts:*"], other)
    )
    account.map_user("U0BOB", other, "Bob")

    [finding] = wrong(account.findings())

    assert finding.subject == f"U0BOB (Bob) → {other}"
    assert finding.detail == (
        "its trust policy names neither the bot role nor its account, so STS refuses to let "
        "the bot assume it"
    )
    statement = json.loads(finding.fix.split(": ", 1)[1])
    assert statement["Principal"] == {"AWS": account.bot_role_arn}
    assert statement["Action"] == ["sts:AssumeRole", "sts:SetSourceIdentity"]


def test_a_role_the_bot_may_not_assume_points_at_approver_role_arns(account: Account) -> None:
    stray = account.client("iam").create_role(
        RoleName="stray", AssumeRolePolicyDocument=json.dumps(trust(account.bot_role_arn))
    )["Role"]["Arn"]
    account.map_user("U0CAROL", stray, "Carol")

    [finding] = wrong(account.findings())

    assert finding.detail == (
        "the bot role may not sts:AssumeRole or sts:SetSourceIdentity on this role "
        "(IAM's simulation: no statement allows it)"
    )
    assert "ApproverRoleArns" in finding.fix


def test_a_deny_in_the_bot_roles_policies_is_named(account: Account) -> None:
    deny = {"Effect": "Deny", "Action": "sts:SetSourceIdentity", "Resource": "*"}
    account.client("iam").put_role_policy(
        RoleName="prod-bot",
        PolicyName="no-source-identity",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [deny]}),
    )

    [finding] = wrong(account.findings())

    assert finding.detail == (
        "the bot role may not sts:SetSourceIdentity on this role "
        "(IAM's simulation: explicitly denied by no-source-identity)"
    )


def test_a_source_identity_condition_that_excludes_the_person_is_reported(
    account: Account,
) -> None:
    account.client("iam").update_assume_role_policy(
        RoleName="prod-level1-approver",
        PolicyDocument=json.dumps(
            trust(account.bot_role_arn, StringEquals={"sts:SourceIdentity": "U0SOMEONE"})
        ),
    )

    [finding] = wrong(account.findings())

    assert finding.detail == (
        "its trust policy does not let the bot role sts:AssumeRole or sts:SetSourceIdentity "
        "with SourceIdentity U0ALICE (IAM's simulation: no statement allows it)"
    )


def test_a_trust_condition_beyond_string_matching_that_excludes_the_bot_is_reported(
    account: Account,
) -> None:
    # The account is trusted, but only for another role: STS refuses the bot. (The evaluator
    # doctor had took every operator but StringEquals/StringLike as met and printed a tick.)
    account.client("iam").update_assume_role_policy(
        RoleName="prod-level1-approver",
        PolicyDocument=json.dumps(
            trust(
                f"arn:aws:iam::{ACCOUNT}:root",
                ArnLike={"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/break-glass-*"},
            )
        ),
    )

    [finding] = wrong(account.findings())

    assert finding.detail.startswith(
        "its trust policy does not let the bot role sts:AssumeRole or sts:SetSourceIdentity"
    )


def test_a_trust_condition_doctor_cannot_know_is_named(account: Account) -> None:
    account.client("iam").update_assume_role_policy(
        RoleName="prod-level1-approver",
        PolicyDocument=json.dumps(
            trust(account.bot_role_arn, StringEquals={"aws:PrincipalOrgID": "o-example"})
        ),
    )

    [finding] = wrong(account.findings())

    assert finding.detail.endswith(
        "(IAM's simulation: no statement allows it; its conditions test aws:PrincipalOrgID, "
        "which doctor cannot know)"
    )


def test_a_role_that_cannot_send_decisions_is_reported(account: Account) -> None:
    account.client("iam").delete_role_policy(
        RoleName="prod-level1-approver", PolicyName="send-decision"
    )

    [finding] = wrong(account.findings())

    assert finding.detail == (
        "the role may not send decisions (ssm:SendAutomationSignal: IAM's simulation: no "
        "statement allows it)"
    )
    assert finding.fix.startswith(
        "allow ssm:SendAutomationSignal on arn:aws:ssm:us-east-1:<account>:automation-execution/*"
    )


def test_a_deny_on_decisions_in_the_approver_role_is_reported(account: Account) -> None:
    deny = {"Effect": "Deny", "Action": "ssm:*", "Resource": "*"}
    account.client("iam").put_role_policy(
        RoleName="prod-level1-approver",
        PolicyName="frozen",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [deny]}),
    )

    [finding] = wrong(account.findings())

    assert finding.detail == (
        "the role may not send decisions (ssm:SendAutomationSignal: IAM's simulation: "
        "explicitly denied by frozen)"
    )


def test_a_person_mapped_to_a_role_that_does_not_exist_is_told_to_re_map(
    account: Account,
) -> None:
    gone = f"arn:aws:iam::{ACCOUNT}:role/prod-deleted-approver"
    account.client("iam").put_role_policy(
        RoleName="prod-bot", PolicyName="also", PolicyDocument=allow(["sts:*"], gone)
    )
    account.map_user("U0DAN", gone, "Dan")

    [finding] = wrong(account.findings())

    assert (finding.subject, finding.detail) == (f"U0DAN (Dan) → {gone}", "no such role")
    assert finding.fix.endswith("signoff users map U0DAN --role <approver role ARN> --name <name>")


def test_a_bot_role_that_does_not_exist_is_named(account: Account) -> None:
    missing = f"arn:aws:iam::{ACCOUNT}:role/prod-bot-typo"

    [finding] = wrong(account.findings(bot_role_arn=missing))

    assert finding.detail == f"the bot role {missing} does not exist"


def test_without_leave_to_simulate_doctor_says_it_could_not_check(account: Account) -> None:
    doctor = account.doctor()
    iam = account.client("iam")

    def refuse(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        error = {"Code": "AccessDenied", "Message": "not authorized to iam:SimulatePrincipalPolicy"}
        return AWSResponse("https://iam.amazonaws.com/", 403, HTTPHeaders(), None), {"Error": error}

    iam.meta.events.register("before-call.iam.SimulatePrincipalPolicy", refuse)
    doctor.roles = RoleChecks(iam, REGION)

    [finding] = wrong(doctor.run(account.target(), account.identities))

    assert finding.render() == (
        f"✗ U0ALICE (Alice) → {account.approver_role_arn}: could not check: your credentials "
        "may not iam:SimulatePrincipalPolicy\n"
        "    fix: run doctor with credentials that may iam:SimulatePrincipalPolicy, "
        "iam:SimulateCustomPolicy and iam:GetRole"
    )


def test_nobody_mapped_means_nobody_can_decide(account: Account) -> None:
    account.client("dynamodb").delete_item(
        TableName=TABLES["identities"], Key={"slack_user_id": {"S": "U0ALICE"}}
    )

    [finding] = wrong(account.findings())

    assert "nobody is mapped" in finding.detail
    assert finding.fix.startswith("signoff users map")


def test_an_unsubscribed_topic_gets_the_subscribe_command(account: Account) -> None:
    sns = account.client("sns")
    lone = sns.create_topic(Name="Automation-prod-Level2")["TopicArn"]

    [finding] = wrong(account.findings(topic_arns=(account.topic_arn, lone)))

    assert finding.subject == f"topic {lone}"
    assert finding.fix == (
        f"aws sns subscribe --topic-arn {lone} --protocol lambda "
        f"--notification-endpoint {account.function_arn}"
    )


def test_a_subscription_without_invoke_permission_gets_add_permission(account: Account) -> None:
    sns = account.client("sns")
    level2 = sns.create_topic(Name="Automation-prod-Level2")["TopicArn"]
    sns.subscribe(TopicArn=level2, Protocol="lambda", Endpoint=account.function_arn)

    [finding] = wrong(account.findings(topic_arns=(level2,)))

    assert finding.detail == "subscribed, but SNS may not invoke the notice function"
    assert finding.fix.startswith("aws lambda add-permission")
    assert f"--source-arn {level2}" in finding.fix


def test_a_topic_ssm_may_not_publish_to_is_reported(account: Account) -> None:
    plain = account.client("sns").create_topic(Name="approvals")["TopicArn"]

    [finding] = wrong(account.findings(topic_arns=(plain,)))

    assert "does not start with Automation" in finding.detail


def test_a_deployment_in_aws_cn_is_checked_in_that_partition() -> None:
    # (moto 5.2.5 will not create the notice function in us-gov-west-1: its Lambda finds no
    # role there. aws-us-gov ARNs are covered in tests/unit/test_arns.py.)
    region = "cn-north-1"
    partition = PARTITIONS[region]
    for world in deployed(region):
        assert world.bot_role_arn.startswith(f"arn:{partition}:iam::")
        # Trusting the bot's whole account, named in the account's own partition.
        world.client("iam").update_assume_role_policy(
            RoleName="prod-level1-approver",
            PolicyDocument=json.dumps(trust(f"arn:{partition}:iam::{ACCOUNT}:root")),
        )
        assert wrong(world.findings()) == []

        world.client("iam").delete_role_policy(
            RoleName="prod-level1-approver", PolicyName="send-decision"
        )
        [finding] = wrong(world.findings())
        assert finding.fix.startswith(
            f"allow ssm:SendAutomationSignal on arn:{partition}:ssm:{region}:<account>:"
            "automation-execution/*"
        )


def test_the_stack_outputs_name_everything_doctor_checks() -> None:
    outputs = {
        "SlackSecretArn": "arn:secret",
        "ApprovalsTableName": "a",
        "AuditTableName": "b",
        "IdentitiesTableName": "c",
        "IdempotencyTableName": "d",
        "BotRoleArn": "arn:bot",
        "ApprovalNoticeFunctionArn": "arn:fn",
        "AutomationTopicArns": "arn:t1,arn:t2",
    }

    assert target_from_outputs(outputs) == Target(
        tables={"approvals": "a", "audit": "b", "identities": "c", "idempotency": "d"},
        slack_secret_arn="arn:secret",
        bot_role_arn="arn:bot",
        notice_function_arn="arn:fn",
        topic_arns=("arn:t1", "arn:t2"),
    )


def _stack(account: Account) -> None:
    outputs = {
        "SlackSecretArn": account.secret_arn,
        "ApprovalsTableName": TABLES["approvals"],
        "AuditTableName": TABLES["audit"],
        "IdentitiesTableName": TABLES["identities"],
        "IdempotencyTableName": TABLES["idempotency"],
        "BotRoleArn": account.bot_role_arn,
        "ApprovalNoticeFunctionArn": account.function_arn,
        "AutomationTopicArns": account.topic_arn,
    }
    template = {
        "Resources": {"Nothing": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    account.client("cloudformation").create_stack(
        StackName=STACK, TemplateBody=json.dumps(template)
    )


# moto creates no resource for the placeholder; only the stack's outputs matter here.
@pytest.mark.filterwarnings("ignore:Tried to parse AWS.+WaitConditionHandle")
@pytest.mark.usefixtures("slack")
def test_the_command_reads_the_stack_and_exits_0_when_all_is_well(
    account: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    _stack(account)

    code = cli.main(["doctor", "--stack", STACK, "--region", REGION])

    out = capsys.readouterr().out
    assert code == 0
    assert "✗" not in out
    assert f"✓ Slack secret {account.secret_arn}: filled, with bot_token and signing_secret" in out
    assert "✓ Slack app scopes: channels:history" in out
    assert out.rstrip().endswith("all 13 ok")


def test_the_command_exits_1_and_prints_each_fix(
    account: Account, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    account.client("dynamodb").delete_table(TableName=TABLES["idempotency"])
    for label, name in TABLES.items():
        monkeypatch.setenv(f"SIGNOFF_{label.upper()}_TABLE", name)
    monkeypatch.setenv("SIGNOFF_DEFAULT_CHANNEL", "C0APPROVALS")
    monkeypatch.setenv("SLACK_SECRET_ARN", account.secret_arn)
    monkeypatch.setenv("AWS_REGION", REGION)

    code = cli.main(
        [
            "doctor",
            "--bot-role-arn",
            account.bot_role_arn,
            "--notice-function",
            account.function_arn,
            "--skip-slack",
        ]
    )

    out = capsys.readouterr().out
    assert code == 1
    assert f"✗ idempotency table {TABLES['idempotency']}: does not exist" in out
    assert "    fix: deploy infra/template.yaml" in out
    assert "✗ approval topics: none named" in out
    assert out.rstrip().endswith("9 ok, 2 to fix")


def test_the_command_without_a_region_says_how_to_give_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")

    code = cli.main(["doctor", "--stack", STACK])

    assert code == 2
    assert "no AWS region: pass --region" in capsys.readouterr().out


def test_the_command_without_credentials_says_so_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for label, name in TABLES.items():
        monkeypatch.setenv(f"SIGNOFF_{label.upper()}_TABLE", name)
    monkeypatch.setenv("SIGNOFF_DEFAULT_CHANNEL", "C0APPROVALS")
    monkeypatch.setenv("SLACK_SECRET_ARN", f"arn:aws:secretsmanager:{REGION}:123456789012:secret:x")

    code = cli.main(["doctor", "--region", REGION, "--skip-slack"])

    captured = capsys.readouterr()
    assert code == 2
    assert captured.err == (
        "signoff: Could not run doctor: NoCredentialsError: Unable to locate credentials\n"
    )
