"""Deploy infra/template.yaml into the local AWS: SAM transformed offline, one CloudFormation stack.

The sandbox has no second copy of Signoff's resources: it reads the template, runs the SAM
transform locally (samtranslator, no network), and hands the result to moto's CloudFormation,
which creates the tables, topics, functions, roles, rules, documents and state machines from it.
`signoff sandbox` and the integration tests' world (tests/support/world.py) both deploy with
`deploy` and point the functions at their Slack with `configure_functions`: one path from a
template resource to a local AWS resource.

moto 5.2.5's CloudFormation cannot create some of the template's resource types; the sandbox
teaches it to, from each resource's own properties, through the same moto backends the APIs use
(`SUBSTITUTES` says how; the start-up banner says so in one line), and replaces the models that
lose information (a role's policies, a table's TTL, a document's content, a state machine's
substitutions). Conditions are evaluated up front, with CloudFormation's semantics (moto writes
"None" for an AWS::NoValue inside Fn::Join).
"""

from __future__ import annotations

import copy
import functools
import io
import json
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import yaml
from moto.awslambda.utils import get_backend as lambda_backend
from moto.cloudformation import parsing as cfn_parsing
from moto.core.common_models import CloudFormationModel
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import Table
from moto.iam.models import Role, iam_backends
from moto.secretsmanager.models import secretsmanager_backends
from moto.sns.models import sns_backends
from moto.ssm.models import ssm_backends
from moto.stepfunctions.responses import get_backend as stepfunctions_backend
from moto.utilities.utils import get_partition

from sandbox.template import TEMPLATE_PATH, load_template, resolver

STACK_NAME = "signoff"
CODE_BUCKET = "signoff-sandbox-artifacts"
CODE_KEY = "signoff-lambda.zip"
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]


class ProvisionError(RuntimeError):
    """The template could not be deployed into the local AWS; the message says which resource."""


@dataclass(frozen=True)
class StackResource:
    logical_id: str
    type: str
    physical_id: str


@dataclass(frozen=True)
class Stack:
    """A deployed stack: its outputs and resources, as DescribeStacks/-Resources report them."""

    name: str
    parameters: Mapping[str, str]
    outputs: Mapping[str, str]
    resources: Mapping[str, StackResource]

    def physical_id(self, logical_id: str) -> str:
        try:
            return self.resources[logical_id].physical_id
        except KeyError:
            raise ProvisionError(f"the stack has no resource {logical_id}") from None

    def of_type(self, resource_type: str) -> list[StackResource]:
        return [r for r in self.resources.values() if r.type == resource_type]


# --- the template --------------------------------------------------------------------------


def code_package() -> bytes:
    """A placeholder code package: functions run in-process from their Handler string."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "Signoff's sandbox runs the handlers in-process.")
    return buffer.getvalue()


class OfflinePolicyLoader:
    """SAM's managed-policy loader without IAM: SAM resolves names from its bundled list."""

    def load(self) -> dict[str, str]:
        return {}


def sam_transform(
    template: Mapping[str, Any], parameters: Mapping[str, Any], region: str
) -> dict[str, Any]:
    """AWS::Serverless-2016-10-31 → plain CloudFormation, offline; local CodeUri → S3 object."""
    # Imported here: samtranslator costs a second of start-up, and only provisioning needs it.
    from samtranslator.metrics.metrics import DummyMetricsPublisher, Metrics
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    sam = copy.deepcopy(dict(template))
    _point_code_at_s3(sam)
    # The session only tells SAM the region; the metrics publisher is the no-network one.
    metrics = Metrics(metrics_publisher=DummyMetricsPublisher())
    translator = Translator(
        None, Parser(), boto_session=boto3.Session(region_name=region), metrics=metrics
    )
    loader = OfflinePolicyLoader()
    try:
        transformed: dict[str, Any] = translator.translate(
            sam, parameter_values=dict(parameters), get_managed_policy_map=loader.load
        )
    except Exception as exc:  # samtranslator's errors carry the template's own complaint
        raise ProvisionError(f"SAM transform of the template failed: {exc}") from exc
    finally:
        metrics.publish()
    return transformed


def _point_code_at_s3(sam: dict[str, Any]) -> None:
    code = {"Bucket": CODE_BUCKET, "Key": CODE_KEY}
    globals_ = sam.get("Globals", {}).get("Function", {})
    if _is_local(globals_.get("CodeUri")):
        globals_["CodeUri"] = code
    for resource in sam.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function" and _is_local(
            properties.get("CodeUri")
        ):
            properties["CodeUri"] = code


def _is_local(uri: Any) -> bool:
    return isinstance(uri, str) and not uri.startswith("s3://")


def prepare(
    template: Mapping[str, Any], parameters: Mapping[str, Any], region: str
) -> dict[str, Any]:
    """The template as moto's CloudFormation can create it, with CloudFormation's semantics."""
    transformed = sam_transform(template, parameters, region)
    resolve = resolver(
        transformed, parameters, pseudo={"AWS::Region": region, "AWS::StackName": STACK_NAME}
    )
    prepared = {
        key: value
        for key, value in transformed.items()
        if key not in ("Resources", "Outputs", "Conditions")
    }
    prepared["Resources"] = {
        logical_id: _without_conditions(resource, resolve)
        for logical_id, resource in transformed["Resources"].items()
        if _exists(resource, resolve)
    }
    prepared["Outputs"] = {
        key: _without_conditions(output, resolve)
        for key, output in transformed.get("Outputs", {}).items()
        if _exists(output, resolve)
    }
    return prepared


def _exists(node: Mapping[str, Any], resolve: Any) -> bool:
    condition = node.get("Condition")
    return condition is None or bool(resolve.condition(condition))


_NO_VALUE = object()


def _without_conditions(node: Any, resolve: Any) -> Any:
    """Fn::If replaced by its branch, AWS::NoValue removed, resource Conditions dropped."""
    if isinstance(node, list):
        items = [_without_conditions(item, resolve) for item in node]
        return [item for item in items if item is not _NO_VALUE]
    if isinstance(node, dict):
        if node == {"Ref": "AWS::NoValue"}:
            return _NO_VALUE
        if len(node) == 1 and "Fn::If" in node:
            name, when_true, when_false = node["Fn::If"]
            chosen = when_true if resolve.condition(name) else when_false
            return _without_conditions(chosen, resolve)
        cleaned = {
            key: _without_conditions(value, resolve)
            for key, value in node.items()
            if key != "Condition"
        }
        return {key: value for key, value in cleaned.items() if value is not _NO_VALUE}
    return node


# --- deploying -----------------------------------------------------------------------------


def deploy(
    session: boto3.Session,
    parameters: Mapping[str, str],
    *,
    template_path: Path | str = TEMPLATE_PATH,
    client_config: Any = None,
) -> Stack:
    """Create the stack from the template; raises ProvisionError naming what failed."""
    install_substitutes()
    s3 = session.client("s3", config=client_config)
    s3.create_bucket(Bucket=CODE_BUCKET)
    s3.put_object(Bucket=CODE_BUCKET, Key=CODE_KEY, Body=code_package())
    return _apply(
        session,
        "create_stack",
        parameters,
        template_path,
        client_config,
        f"creating the stack from {template_path} failed",
    )


def redeploy(
    session: boto3.Session,
    parameters: Mapping[str, str],
    *,
    template_path: Path | str = TEMPLATE_PATH,
    client_config: Any = None,
) -> Stack:
    """Update the stack with new parameter values (what an operator's second deploy does)."""
    return _apply(
        session,
        "update_stack",
        parameters,
        template_path,
        client_config,
        "updating the stack failed",
    )


def _apply(
    session: boto3.Session,
    operation: str,
    parameters: Mapping[str, str],
    template_path: Path | str,
    client_config: Any,
    failed: str,
) -> Stack:
    """CreateStack or UpdateStack with the prepared template; the stack as it then stands."""
    body = template_body(template_path, parameters, str(session.region_name))
    cloudformation = session.client("cloudformation", config=client_config)
    try:
        getattr(cloudformation, operation)(
            StackName=STACK_NAME,
            TemplateBody=body,
            Parameters=_stack_parameters(parameters),
            Capabilities=CAPABILITIES,
        )
    except Exception as exc:
        raise ProvisionError(f"{failed}: {exc}") from exc
    return describe(session, client_config=client_config)


def template_body(template_path: Path | str, parameters: Mapping[str, str], region: str) -> str:
    """The prepared template as the TemplateBody CreateStack gets, from a per-process cache.

    The SAM transform costs half a second, and every integration test deploys the same
    template with the same parameters; the cache is keyed by the file's size and mtime too, so
    an edited template (or a test's modified copy) is read afresh.
    """
    path = Path(template_path).resolve()
    stat = path.stat()
    return _template_body(
        str(path),
        (stat.st_mtime_ns, stat.st_size),
        tuple(sorted((k, str(v)) for k, v in parameters.items())),
        region,
    )


@functools.lru_cache(maxsize=32)
def _template_body(
    path: str, version: tuple[int, int], parameters: tuple[tuple[str, str], ...], region: str
) -> str:
    prepared = prepare(load_template(path), dict(parameters), region)
    # moto's CreateStack/UpdateStack parse a body with PyYAML's pure-Python loader and read it
    # as JSON only when that fails (moto/cloudformation/models.py, parse_template): a second
    # per stack for this template. A tab is JSON whitespace but cannot start a YAML token.
    return "\t" + json.dumps(prepared)


def _stack_parameters(parameters: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in parameters.items()]


def describe(session: boto3.Session, *, client_config: Any = None) -> Stack:
    cloudformation = session.client("cloudformation", config=client_config)
    stack = cloudformation.describe_stacks(StackName=STACK_NAME)["Stacks"][0]
    if not str(stack["StackStatus"]).endswith("_COMPLETE"):
        raise ProvisionError(
            f"stack {STACK_NAME} is {stack['StackStatus']}: {stack.get('StackStatusReason', '')}"
        )
    described = cloudformation.describe_stack_resources(StackName=STACK_NAME)["StackResources"]
    resources = {
        r["LogicalResourceId"]: StackResource(
            r["LogicalResourceId"], r["ResourceType"], str(r.get("PhysicalResourceId") or "")
        )
        for r in described
        if r.get("LogicalResourceId")
    }
    return Stack(
        name=STACK_NAME,
        parameters={p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])},
        outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        resources=resources,
    )


# --- running the functions here ------------------------------------------------------------


@dataclass(frozen=True)
class ConfiguredFunction:
    """One of the stack's functions as `configure_functions` left it."""

    name: str
    handler: str
    role_arn: str
    variables: Mapping[str, str]  # its environment now (role credentials included, if given)


def configure_functions(
    session: boto3.Session,
    stack: Stack,
    variables: Mapping[str, str],
    *,
    bot_token: str,
    signing_secret: str,
    as_roles: bool = True,
    client_config: Any = None,
) -> list[ConfiguredFunction]:
    """Point the stack's functions at this machine: each keeps the template's environment and
    gets `variables` (where Slack is…); the Slack credentials go into the template's Slack
    secret, where the functions read them as deployed ones do (as variables only for a function
    without the secret). With `as_roles`, each function gets its execution role's session in
    the variables Lambda sets, so AWS sees the function's role as the caller."""
    lam = session.client("lambda", config=client_config)
    plain_slack = {"SLACK_BOT_TOKEN": bot_token, "SLACK_SIGNING_SECRET": signing_secret}
    secrets: set[str] = set()
    configured = []
    for function in stack.of_type("AWS::Lambda::Function"):
        config = lam.get_function_configuration(FunctionName=function.physical_id)
        # Lambda keeps variables as strings (moto keeps a Number parameter's int).
        merged = {k: str(v) for k, v in config.get("Environment", {}).get("Variables", {}).items()}
        # A function given the template's Slack secret reads its credentials there, as when
        # deployed (so a cold start here makes the same Secrets Manager call).
        if merged.get("SLACK_SECRET_ARN"):
            secrets.add(merged["SLACK_SECRET_ARN"])
        else:
            merged.update(plain_slack)
        merged.update(variables)
        role_arn = str(config["Role"])
        if as_roles:
            merged.update(_role_credentials(session, role_arn, function.physical_id, client_config))
        lam.update_function_configuration(
            FunctionName=function.physical_id, Environment={"Variables": merged}
        )
        configured.append(
            ConfiguredFunction(function.physical_id, str(config["Handler"]), role_arn, merged)
        )
    # The same values in the template's Slack secret, as docs/deploy.md's step does.
    value = json.dumps({"bot_token": bot_token, "signing_secret": signing_secret})
    secretsmanager = session.client("secretsmanager", config=client_config)
    for secret in secrets:
        secretsmanager.put_secret_value(SecretId=secret, SecretString=value)
    return configured


def _role_credentials(
    session: boto3.Session, role_arn: str, function_name: str, client_config: Any
) -> dict[str, str]:
    # Lambda hands each function its execution role's session in these variables, so SSM
    # sees the bot's role (not the sandbox's own key) as who started a runbook.
    credentials = session.client("sts", config=client_config).assume_role(
        RoleArn=role_arn, RoleSessionName=function_name, DurationSeconds=43200
    )["Credentials"]
    return {
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
    }


# --- the resource types moto's CloudFormation lacks ----------------------------------------

_Properties = Mapping[str, Any]
# (Properties, resource name, account id, region) → (physical id, GetAtt attributes).
_Create = Callable[[_Properties, str, str, str], tuple[str, dict[str, str]]]
# (Properties, physical id, account id, region): the resource updated in place.
_Update = Callable[[_Properties, str, str, str], None]


@dataclass(frozen=True)
class _Recipe:
    """How the sandbox makes one resource type from its properties, through moto's backends."""

    how: str  # what the start-up line says the sandbox does instead
    create: _Create
    name_property: str = ""  # the property that names the resource, as CloudFormation has it
    update: _Update | None = None  # None: the sandbox refuses to update it


def _create_secret(
    properties: _Properties, name: str, account_id: str, region_name: str
) -> tuple[str, dict[str, str]]:
    if "GenerateSecretString" in properties:
        raise ProvisionError("the sandbox does not generate secrets (GenerateSecretString)")
    created = secretsmanager_backends[account_id][region_name].create_secret(
        name=properties.get("Name") or name,
        secret_string=properties.get("SecretString"),
        secret_binary=None,
        description=properties.get("Description"),
        tags=properties.get("Tags"),
        kms_key_id=properties.get("KmsKeyId"),
        client_request_token=None,
        replica_regions=[],
        force_overwrite=False,
    )
    arn = json.loads(created)["ARN"] if isinstance(created, str) else created["ARN"]
    return arn, {"Id": arn}


def _put_secret_policy(
    properties: _Properties, name: str, account_id: str, region_name: str
) -> tuple[str, dict[str, str]]:
    policy = properties["ResourcePolicy"]
    secret_id = properties["SecretId"]
    secretsmanager_backends[account_id][region_name].put_resource_policy(
        secret_id, policy if isinstance(policy, str) else json.dumps(policy)
    )
    # CloudFormation's Ref of this resource is the secret's ARN.
    return secret_id, {"Id": secret_id}


def _create_subscription(
    properties: _Properties, name: str, account_id: str, region_name: str
) -> tuple[str, dict[str, str]]:
    topic_arn = properties["TopicArn"]
    region = topic_arn.split(":")[3]
    backend = sns_backends[account_id][region]
    subscription = backend.subscribe(topic_arn, properties["Endpoint"], properties["Protocol"])
    for attribute in ("FilterPolicy", "FilterPolicyScope", "RawMessageDelivery", "RedrivePolicy"):
        if attribute in properties:
            value = properties[attribute]
            backend.set_subscription_attributes(
                subscription.arn, attribute, value if isinstance(value, str) else json.dumps(value)
            )
    return subscription.arn, {"Arn": subscription.arn}


def _create_version(
    properties: _Properties, name: str, account_id: str, region_name: str
) -> tuple[str, dict[str, str]]:
    published = lambda_backend(account_id, region_name).publish_version(
        properties["FunctionName"], properties.get("Description", "")
    )
    if published is None:
        raise ProvisionError(f"no function {properties['FunctionName']} to publish")
    arn = f"{published.function_arn.rsplit(':', 1)[0]}:{published.version}"
    return arn, {"Version": str(published.version)}


def _create_alias(
    properties: _Properties, name: str, account_id: str, region_name: str
) -> tuple[str, dict[str, str]]:
    backend = lambda_backend(account_id, region_name)
    function = backend.get_function(properties["FunctionName"])
    # The version SAM published (AutoPublishAlias); "$LATEST" when moto left it unresolved.
    version = str(properties.get("FunctionVersion") or "$LATEST")
    if not version.isdigit():
        version = "$LATEST"
    alias = backend.create_alias(
        properties["Name"], function.function_name, version, "", properties.get("RoutingConfig")
    )
    return alias.arn, {"AliasArn": alias.arn}


def _create_function_url(
    properties: _Properties, name: str, account_id: str, region_name: str
) -> tuple[str, dict[str, str]]:
    config = {
        key: properties[key] for key in ("AuthType", "Cors", "InvokeMode") if key in properties
    }
    # An alias's URL (AutoPublishAlias) is served from its function: the sandbox runs one copy
    # of the code, and moto's URLs take no qualifier.
    target = str(properties["TargetFunctionArn"])
    if target.count(":") == 7:
        target = target.rsplit(":", 1)[0]
    url = lambda_backend(account_id, region_name).create_function_url_config(target, config)
    arn = url.function.function_arn
    return arn, {"FunctionUrl": url.url, "FunctionArn": arn}


def _create_event_invoke_config(
    properties: _Properties, name: str, account_id: str, region_name: str
) -> tuple[str, dict[str, str]]:
    config: dict[str, Any] = {}
    for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
        if key in properties:
            config[key] = int(properties[key])
    if "DestinationConfig" in properties:
        config["DestinationConfig"] = properties["DestinationConfig"]
    function = properties["FunctionName"]
    lambda_backend(account_id, region_name).put_function_event_invoke_config(function, config)
    return f"{function}:{properties.get('Qualifier', '$LATEST')}", {}


def _create_state_machine(
    properties: _Properties, name: str, account_id: str, region_name: str
) -> tuple[str, dict[str, str]]:
    definition = properties.get("DefinitionString") or json.dumps(properties["Definition"])
    for key, value in properties.get("DefinitionSubstitutions", {}).items():
        definition = definition.replace("${" + key + "}", str(value))
    # moto's own model writes to the plain backend; with execute_state_machine on, the
    # API (and so every StartExecution) reads the interpreter's backend instead.
    machine = stepfunctions_backend(account_id, region_name).create_state_machine(
        properties.get("StateMachineName") or name,
        definition,
        properties["RoleArn"],
        tags=properties.get("Tags"),
        loggingConfiguration=properties.get("LoggingConfiguration"),
        tracingConfiguration=properties.get("TracingConfiguration"),
        sm_type=properties.get("StateMachineType"),
    )
    return machine.arn, {"Arn": machine.arn, "Name": machine.name}


def _create_document(
    properties: _Properties, name: str, account_id: str, region_name: str
) -> tuple[str, dict[str, str]]:
    name = properties.get("Name") or name
    ssm_backends[account_id][region_name].create_document(
        content=_document_text(properties),
        requires=properties.get("Requires"),
        attachments=properties.get("Attachments"),
        name=name,
        version_name=properties.get("VersionName"),
        document_type=properties.get("DocumentType"),
        document_format=properties.get("DocumentFormat", "JSON"),
        target_type=properties.get("TargetType"),
        tags=properties.get("Tags"),
    )
    return name, {}


def _update_document(properties: _Properties, name: str, account_id: str, region_name: str) -> None:
    backend = ssm_backends[account_id][region_name]
    # UpdateMethod NewVersion: a new version that becomes the default.
    updated = backend.update_document(
        content=_document_text(properties),
        attachments=[],
        name=name,
        version_name=properties.get("VersionName") or "",
        document_version="$LATEST",
        document_format=properties.get("DocumentFormat", "JSON"),
        target_type=properties.get("TargetType") or "",
    )
    backend.update_document_default_version(name, updated["DocumentVersion"])


def _document_text(properties: _Properties) -> str:
    content = properties["Content"]
    if isinstance(content, str):
        return content
    if properties.get("DocumentFormat", "JSON") == "YAML":
        return str(yaml.safe_dump(content, sort_keys=False))
    return json.dumps(content)


# Resource types moto's CloudFormation lacks → how the sandbox creates them from their properties.
_RECIPES = {
    "AWS::SecretsManager::Secret": _Recipe("CreateSecret", _create_secret, "Name"),
    "AWS::SecretsManager::ResourcePolicy": _Recipe(
        "PutResourcePolicy (stored; moto does not evaluate it)", _put_secret_policy
    ),
    "AWS::SNS::Subscription": _Recipe("SNS Subscribe", _create_subscription),
    # moto has Version, but without GetAtt Version (which SAM's alias reads); it lacks Alias.
    "AWS::Lambda::Version": _Recipe("PublishVersion", _create_version),
    "AWS::Lambda::Alias": _Recipe("CreateAlias", _create_alias),
    "AWS::Lambda::Url": _Recipe(
        "CreateFunctionUrlConfig, served on loopback", _create_function_url
    ),
    "AWS::Lambda::EventInvokeConfig": _Recipe(
        "PutFunctionEventInvokeConfig (retries kept, no DLQ)", _create_event_invoke_config
    ),
    # moto has these two, but its models ignore Definition/DefinitionSubstitutions and create
    # the machine where the executing interpreter never looks, or store a document's Content
    # as an object (DescribeDocument then fails).
    "AWS::StepFunctions::StateMachine": _Recipe(
        "CreateStateMachine (Definition, substitutions)", _create_state_machine, "StateMachineName"
    ),
    "AWS::SSM::Document": _Recipe(
        "CreateDocument (Content serialized)", _create_document, "Name", _update_document
    ),
}


class _SubstituteModel:
    """A moto CloudFormation model made from a `_Recipe`: created by it, with Ref and GetAtt.

    moto calls cloudformation_type() and cloudformation_name_type() on the class, so each
    resource type gets its own subclass (made by `_model`) that carries its type and recipe.
    """

    resource_type = ""
    recipe: _Recipe

    def __init__(self, physical_id: str, attributes: Mapping[str, str]) -> None:
        self._physical_id = physical_id
        self._attributes = dict(attributes)

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.resource_type

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.recipe.name_property

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name not in self._attributes:
            raise ProvisionError(f"{self.cloudformation_type()} has no attribute {attribute_name}")
        return self._attributes[attribute_name]

    @property
    def physical_resource_id(self) -> str:
        return self._physical_id

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> _SubstituteModel:
        properties = cloudformation_json.get("Properties", {})
        physical_id, attributes = cls.recipe.create(
            properties, resource_name, account_id, region_name
        )
        return cls(physical_id, attributes)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> Any:
        if cls.recipe.update is None:
            raise ProvisionError(
                f"the sandbox cannot update {original_resource.cloudformation_type()} "
                f"{original_resource.physical_resource_id}"
            )
        cls.recipe.update(
            cloudformation_json["Properties"],
            original_resource.physical_resource_id,
            account_id,
            region_name,
        )
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        return None


def _model(resource_type: str, recipe: _Recipe) -> type[CloudFormationModel]:
    # A direct subclass of CloudFormationModel, as moto's model list expects its models to be.
    name = "_" + resource_type.replace("::", "") + "Substitute"
    namespace = {"resource_type": resource_type, "recipe": recipe}
    return type(name, (_SubstituteModel, CloudFormationModel), namespace)


class _RoleSubstitute(Role):  # type: ignore[misc]
    """moto's role model ignores ManagedPolicyArns and stores inline policies as Python text."""

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Role:
        properties = cloudformation_json["Properties"]
        without_policies = {
            **cloudformation_json,
            "Properties": {k: v for k, v in properties.items() if k != "Policies"},
        }
        role = Role.create_from_cloudformation_json(
            resource_name, without_policies, account_id, region_name, **kwargs
        )
        for policy in properties.get("Policies", []):
            document = policy["PolicyDocument"]
            role.put_policy(
                policy["PolicyName"],
                document if isinstance(document, str) else json.dumps(document),
            )
        iam = iam_backends[account_id][get_partition(region_name)]
        for policy_arn in properties.get("ManagedPolicyArns", []):
            iam.attach_role_policy(policy_arn, role.name)
        return role


class _TableSubstitute(Table):  # type: ignore[misc]
    """moto's table model ignores TimeToLiveSpecification: the table would keep every item."""

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Table:
        table = Table.create_from_cloudformation_json(
            resource_name, cloudformation_json, account_id, region_name, **kwargs
        )
        ttl = cloudformation_json["Properties"].get("TimeToLiveSpecification")
        if ttl and str(ttl.get("Enabled")).lower() == "true":
            dynamodb_backends[account_id][region_name].update_time_to_live(
                table.name, {"Enabled": True, "AttributeName": ttl["AttributeName"]}
            )
        return table


# Resource types moto's CloudFormation lacks or mishandles → what the sandbox does instead.
SUBSTITUTES = {
    **{resource_type: recipe.how for resource_type, recipe in _RECIPES.items()},
    "AWS::IAM::Role": "CreateRole (inline policies as JSON, managed policies attached)",
    "AWS::DynamoDB::Table": "CreateTable + UpdateTimeToLive (TimeToLiveSpecification)",
}

_SUBSTITUTE_MODELS = (
    *(_model(resource_type, recipe) for resource_type, recipe in _RECIPES.items()),
    _RoleSubstitute,
    _TableSubstitute,
)


def install_substitutes() -> None:
    """Make moto's CloudFormation create the SUBSTITUTES types our way (idempotent)."""
    # moto looks resource types up in two cached maps; the cached dicts are updated in place.
    for model in _SUBSTITUTE_MODELS:
        cfn_parsing.get_model_map()[model.cloudformation_type()] = model
        cfn_parsing.get_name_type_map()[model.cloudformation_type()] = (
            model.cloudformation_name_type()
        )


def substitutes_line(stack: Stack, *extra: str) -> str:
    """The one start-up line that says which resource types the sandbox made itself."""
    made = [f"{t.split('::', 1)[1]} → {how}" for t, how in SUBSTITUTES.items() if stack.of_type(t)]
    return (
        "substituted (moto's CloudFormation lacks or mishandles these; made from the template's "
        "own properties): " + "; ".join([*made, *extra])
    )
