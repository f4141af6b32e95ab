"""Deploy zonehop's templates into moto server as CloudFormation would, and say what was created.

    .venv/bin/python tests/world/deploy_stack.py --endpoint http://127.0.0.1:PORT \\
        --stack zonehop --parameter MemberRoleArns=... --parameter MemberRoleExternalId=... \\
        --parameter RequesterArns=... [--member ACCOUNT[:registrar] ...]

0. infra/member-role.yaml is created first, as the README's deploy step 1 says (item 4 below).
1. infra/template.yaml goes through the SAM transform of `aws-sam-translator` (the library SAM
   and cfn-lint use) as `sam deploy` sends it, with two local stand-ins for what `sam build` and
   `sam package` do: every function's CodeUri is one placeholder object in a local bucket
   (moto's Docker-free Lambda never runs code; the functions are served by cargo lambda watch),
   and a state machine's DefinitionUri is read into its Definition (SAM's documented inline
   form; the DefinitionSubstitutions stay for CloudFormation to fill).
2. The translated template is created as a stack through moto's CloudFormation (with the
   patches of moto_server.py, l) in the tooling account, with the given parameters.
3. The resource types moto's CloudFormation lacks (AWS::CloudWatch::Alarm,
   AWS::Logs::MetricFilter, AWS::SNS::TopicPolicy, AWS::SNS::Subscription,
   AWS::Events::EventBusPolicy) are created through their service's API from the template's own
   properties, their intrinsic functions resolved against the stack's parameters and resources;
   a resource whose Condition is false is not created (as in CloudFormation). A type neither
   CloudFormation nor a handler here creates fails the deployment, by name.
4. infra/member-role.yaml is created as a stack `zonehop-member` in each `--member` account
   (through an assumed role's credentials, as moto tells accounts apart), IsRegistrarAccount
   true for `ACCOUNT:registrar`.

Prints one JSON object, the deployment: the stack and its status, every resource of the
translated template by logical id with its type, physical id and how it was created
(`cloudformation`, `api`, or `not created: condition X is false`), each function's name, ARN,
role and environment as the emulator holds them (each function is tagged `zonehop:binary` with
its binary, by which moto_server.py forwards its invokes to cargo lambda watch), the state
machines' ARNs, the outputs, and the member stacks. A failure prints
`deployment failed: ...` naming the resource (or placeholder, or parameter) on stderr, exit 1.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
import zipfile
from typing import Any

import boto3
from botocore.config import Config
from samtranslator.public.translator import ManagedPolicyLoader  # noqa: F401 (the public API)
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
REGION = "us-east-1"
TOOLING_ACCOUNT = "123456789012"
CODE_BUCKET = "zonehop-local-code"
CODE_KEY = "function.zip"


class DeploymentFailed(Exception):
    pass


class NoManagedPolicies:
    """The translator asks IAM for AWS managed policies only when a template names them by
    short name; this one names none."""

    def load(self) -> dict[str, str]:
        return {}


def client(service: str, endpoint: str, credentials: dict[str, str] | None = None) -> Any:
    keys = credentials or {"aws_access_key_id": "zonehop-test", "aws_secret_access_key": "x"}
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        config=Config(retries={"max_attempts": 1}),
        **keys,
    )


def translate(template_path: str, code_uri: str) -> dict[str, Any]:
    """The SAM template as CloudFormation receives it from `sam deploy`."""
    base = os.path.dirname(template_path)
    with open(template_path) as f:
        template = yaml_parse(f.read())
    for logical_id, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::StateMachine" and "DefinitionUri" in properties:
            uri = properties.pop("DefinitionUri")
            with open(os.path.join(base, uri)) as f:
                properties["Definition"] = json.load(f)
        if resource["Type"] == "AWS::Serverless::Function" and "CodeUri" in properties:
            properties["CodeUri"] = code_uri
    function_globals = template.get("Globals", {}).get("Function", {})
    if "CodeUri" in function_globals:
        function_globals["CodeUri"] = code_uri
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    try:
        return transform(template, {}, NoManagedPolicies())
    except Exception as e:  # the translator's InvalidDocumentException lists every cause
        causes = getattr(e, "causes", None) or []
        detail = "; ".join(str(c) for c in causes) or str(e)
        raise DeploymentFailed(f"the SAM transform refused {template_path}: {detail}") from e


class Resolver:
    """CloudFormation's intrinsic functions over a created stack (what a handler needs)."""

    def __init__(self, template: dict[str, Any], parameters: dict[str, Any], stack: str,
                 physical: dict[str, str], attributes: dict[tuple[str, str], str]) -> None:
        self.template = template
        self.parameters = parameters
        self.stack = stack
        self.physical = physical
        self.attributes = attributes

    def ref(self, name: str) -> Any:
        pseudo = {"AWS::StackName": self.stack, "AWS::Region": REGION,
                  "AWS::AccountId": TOOLING_ACCOUNT, "AWS::Partition": "aws",
                  "AWS::URLSuffix": "amazonaws.com"}
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.physical:
            return self.physical[name]
        raise DeploymentFailed(f"a !Ref to {name}, which is neither a parameter nor a resource")

    def get_att(self, name: str, attribute: str) -> Any:
        if (name, attribute) in self.attributes:
            return self.attributes[(name, attribute)]
        raise DeploymentFailed(f"a !GetAtt {name}.{attribute} the stack does not have")

    def condition(self, name: str) -> bool:
        conditions = self.template.get("Conditions", {})
        if name not in conditions:
            raise DeploymentFailed(f"the condition {name} is not in the template")
        return bool(self.resolve(conditions[name]))

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, argument), = value.items()
            if key == "Ref":
                return self.ref(argument)
            if key == "Fn::GetAtt":
                name, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self.get_att(name, attribute)
            if key == "Fn::Sub":
                text, variables = (argument, {}) if isinstance(argument, str) else argument
                variables = {k: self.resolve(v) for k, v in variables.items()}
                return self.substitute(text, variables)
            if key == "Fn::Join":
                separator, items = argument
                return separator.join(str(i) for i in self.resolve(items))
            if key == "Fn::If":
                name, yes, no = argument
                return self.resolve(yes if self.condition(name) else no)
            if key == "Fn::Not":
                return not self.resolve(argument[0])
            if key == "Fn::Equals":
                a, b = self.resolve(argument)
                return a == b
            if key == "Condition":
                return self.condition(argument)
            if key.startswith("Fn::"):
                raise DeploymentFailed(f"{key}: an intrinsic function this deployment cannot resolve")
        return {k: self.resolve(v) for k, v in value.items()}

    def substitute(self, text: str, variables: dict[str, Any]) -> str:
        out, rest = [], text
        while "${" in rest:
            before, _, after = rest.partition("${")
            name, _, rest = after.partition("}")
            out.append(before)
            if name.startswith("!"):
                out.append("${" + name[1:] + "}")
            elif name in variables:
                out.append(str(variables[name]))
            elif "." in name and not name.startswith("AWS::"):
                out.append(str(self.get_att(*name.split(".", 1))))
            else:
                value = self.ref(name)
                out.append(",".join(value) if isinstance(value, list) else str(value))
        out.append(rest)
        return "".join(out)


def _alarm_request(properties: dict[str, Any]) -> dict[str, Any]:
    allowed = {"AlarmName", "AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions",
               "InsufficientDataActions", "MetricName", "Namespace", "Statistic",
               "ExtendedStatistic", "Dimensions", "Period", "Unit", "EvaluationPeriods",
               "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData",
               "EvaluateLowSampleCountPercentile", "Metrics", "ThresholdMetricId"}
    unknown = set(properties) - allowed
    if unknown:
        raise DeploymentFailed(f"alarm properties PutMetricAlarm does not take: {sorted(unknown)}")
    request = dict(properties)
    request["Threshold"] = float(request["Threshold"]) if "Threshold" in request else None
    if request["Threshold"] is None:
        del request["Threshold"]
    for key in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
        if key in request:
            request[key] = int(request[key])
    for query in request.get("Metrics", []):
        if "Period" in query:
            query["Period"] = int(query["Period"])
        stat = query.get("MetricStat")
        if stat and "Period" in stat:
            stat["Period"] = int(stat["Period"])
    return request


def create_through_api(logical_id: str, resource: dict[str, Any], properties: dict[str, Any],
                       endpoint: str, stack: str) -> str:
    """Creates one resource moto's CloudFormation lacks; returns its physical id."""
    kind = resource["Type"]
    if kind == "AWS::CloudWatch::Alarm":
        request = _alarm_request(properties)
        request.setdefault("AlarmName", f"{stack}-{logical_id}")
        client("cloudwatch", endpoint).put_metric_alarm(**request)
        return request["AlarmName"]
    if kind == "AWS::Logs::MetricFilter":
        name = properties.get("FilterName") or f"{stack}-{logical_id}"
        transformations = [
            {k[0].lower() + k[1:]: (str(v) if k in ("MetricValue",) else v) for k, v in t.items()}
            for t in properties["MetricTransformations"]
        ]
        for t in transformations:
            if "defaultValue" in t:
                t["defaultValue"] = float(t["defaultValue"])
        client("logs", endpoint).put_metric_filter(
            logGroupName=properties["LogGroupName"], filterName=name,
            filterPattern=properties["FilterPattern"], metricTransformations=transformations)
        return name
    if kind == "AWS::SNS::TopicPolicy":
        policy = json.dumps(properties["PolicyDocument"])
        sns = client("sns", endpoint)
        for topic in properties["Topics"]:
            sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=policy)
        return f"{stack}-{logical_id}"
    if kind == "AWS::SNS::Subscription":
        answer = client("sns", endpoint).subscribe(
            TopicArn=properties["TopicArn"], Protocol=properties["Protocol"],
            Endpoint=properties["Endpoint"], ReturnSubscriptionArn=True)
        return answer["SubscriptionArn"]
    if kind == "AWS::Events::EventBusPolicy":
        statement = dict(properties["Statement"])
        statement["Sid"] = properties["StatementId"]
        client("events", endpoint).put_permission(
            EventBusName=properties.get("EventBusName", "default"),
            Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
        return properties["StatementId"]
    raise DeploymentFailed(
        f"{logical_id} ({kind}): neither moto's CloudFormation nor this deployment creates it")


def attributes_of(endpoint: str, resources: dict[str, dict[str, Any]],
                  physical: dict[str, str]) -> dict[tuple[str, str], str]:
    """The attributes the API-created resources' properties read (GetAtt X.Arn)."""
    out: dict[tuple[str, str], str] = {}
    for logical_id, resource in resources.items():
        if logical_id not in physical:
            continue
        kind, pid = resource["Type"], physical[logical_id]
        if kind == "AWS::Events::EventBus":
            out[(logical_id, "Arn")] = f"arn:aws:events:{REGION}:{TOOLING_ACCOUNT}:event-bus/{pid}"
            out[(logical_id, "Name")] = pid
        elif kind == "AWS::Logs::LogGroup":
            out[(logical_id, "Arn")] = f"arn:aws:logs:{REGION}:{TOOLING_ACCOUNT}:log-group:{pid}:*"
        elif kind == "AWS::SNS::Topic":
            out[(logical_id, "TopicArn")] = pid
        elif kind == "AWS::Lambda::Function":
            out[(logical_id, "Arn")] = f"arn:aws:lambda:{REGION}:{TOOLING_ACCOUNT}:function:{pid}"
        elif kind == "AWS::IAM::Role":
            out[(logical_id, "Arn")] = f"arn:aws:iam::{TOOLING_ACCOUNT}:role/{pid}"
    return out


def create_stack(cf: Any, name: str, template: dict[str, Any], parameters: dict[str, str]) -> None:
    try:
        cf.create_stack(
            StackName=name, TemplateBody=json.dumps(template),
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()])
    except Exception as e:
        raise DeploymentFailed(f"CloudFormation refused the stack {name}: {e}") from e
    stack = cf.describe_stacks(StackName=name)["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        failed = [r for r in cf.describe_stack_events(StackName=name)["StackEvents"]
                  if r["ResourceStatus"].endswith("FAILED")]
        reasons = "; ".join(f"{r['LogicalResourceId']}: {r.get('ResourceStatusReason')}"
                            for r in failed)
        raise DeploymentFailed(f"the stack {name} is {stack['StackStatus']}: {reasons}")


def parameter_values(template: dict[str, Any], given: dict[str, str]) -> dict[str, Any]:
    """Every parameter's value as CloudFormation resolves it (a missing required one fails)."""
    values: dict[str, Any] = {}
    declared = template.get("Parameters", {})
    for name in given:
        if name not in declared:
            raise DeploymentFailed(f"the parameter {name} is not in the template")
    for name, declaration in declared.items():
        if name in given:
            value: Any = given[name]
        elif "Default" in declaration:
            value = str(declaration["Default"])
        else:
            raise DeploymentFailed(f"the required parameter {name} was not given")
        if declaration.get("Type") == "CommaDelimitedList":
            value = [v.strip() for v in value.split(",")] if value else []
        values[name] = value
    return values


def deploy_tooling(endpoint: str, stack: str, template_path: str,
                   given: dict[str, str]) -> dict[str, Any]:
    s3 = client("s3", endpoint)
    try:
        s3.create_bucket(Bucket=CODE_BUCKET)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass  # a second stack in the same emulator
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\n# served by cargo lambda watch\n")
    s3.put_object(Bucket=CODE_BUCKET, Key=CODE_KEY, Body=code.getvalue())

    translated = translate(template_path, f"s3://{CODE_BUCKET}/{CODE_KEY}")
    values = parameter_values(translated, given)
    cf = client("cloudformation", endpoint)
    create_stack(cf, stack, translated, given)

    summaries = cf.list_stack_resources(StackName=stack)["StackResourceSummaries"]
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in summaries}
    resources = translated["Resources"]
    resolver = Resolver(translated, values, stack, physical,
                        attributes_of(endpoint, resources, physical))
    report: dict[str, dict[str, Any]] = {}
    for logical_id, resource in resources.items():
        entry: dict[str, Any] = {"type": resource["Type"]}
        condition = resource.get("Condition")
        if logical_id in physical:
            entry.update(physicalId=physical[logical_id], createdBy="cloudformation")
        elif condition and not resolver.condition(condition):
            entry["createdBy"] = f"not created: condition {condition} is false"
        else:
            try:
                properties = resolver.resolve(resource.get("Properties", {}))
                pid = create_through_api(logical_id, resource, properties, endpoint, stack)
            except DeploymentFailed as e:
                raise DeploymentFailed(f"{logical_id} ({resource['Type']}): {e}") from e
            except Exception as e:
                raise DeploymentFailed(
                    f"{logical_id} ({resource['Type']}) through the API: {e}") from e
            entry.update(physicalId=pid, createdBy="api")
        report[logical_id] = entry

    functions: dict[str, Any] = {}
    lam = client("lambda", endpoint)
    sam = yaml_parse(open(template_path).read())
    for logical_id, resource in sam["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        binary = resource.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
        if not binary:
            raise DeploymentFailed(f"{logical_id}: no Metadata.BuildProperties.Binary")
        configuration = lam.get_function(FunctionName=physical[logical_id])["Configuration"]
        # What `sam build` would put in the function's code: moto_server.py's forwarding
        # (patch c) serves the function by this binary.
        lam.tag_resource(Resource=configuration["FunctionArn"], Tags={"zonehop:binary": binary})
        functions[binary] = {
            "logicalId": logical_id,
            "name": configuration["FunctionName"],
            "arn": configuration["FunctionArn"],
            "role": configuration["Role"],
            "environment": {k: str(v) for k, v in
                            configuration.get("Environment", {}).get("Variables", {}).items()},
        }

    state_machines: dict[str, Any] = {}
    sfn = client("stepfunctions", endpoint)
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::StepFunctions::StateMachine":
            continue
        arn = physical[logical_id]
        definition = sfn.describe_state_machine(stateMachineArn=arn)["definition"]
        left = sorted({part.split("}", 1)[0] for part in definition.split("${")[1:]})
        if left:
            raise DeploymentFailed(
                f"{logical_id}: placeholders no DefinitionSubstitutions entry fills: {left}")
        state_machines[logical_id] = {"arn": arn}

    stack_description = cf.describe_stacks(StackName=stack)["Stacks"][0]
    return {
        "stack": stack,
        "status": stack_description["StackStatus"],
        "template": os.path.relpath(template_path, ROOT),
        "transform": "aws-sam-translator",
        "resources": report,
        "functions": functions,
        "stateMachines": state_machines,
        "outputs": {o["OutputKey"]: o["OutputValue"]
                    for o in stack_description.get("Outputs", [])},
    }


def deploy_member(endpoint: str, account: str, registrar: bool, external_id: str) -> dict[str, Any]:
    credentials = client("sts", endpoint).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/zonehop-deployer",
        RoleSessionName="zonehop-deploy")["Credentials"]
    keys = {"aws_access_key_id": credentials["AccessKeyId"],
            "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials["SessionToken"]}
    with open(os.path.join(ROOT, "infra", "member-role.yaml")) as f:
        template = yaml_parse(f.read())
    cf = client("cloudformation", endpoint, keys)
    parameters = {"ToolingAccountId": TOOLING_ACCOUNT, "ExternalId": external_id,
                  "IsRegistrarAccount": "true" if registrar else "false"}
    create_stack(cf, "zonehop-member", template, parameters)
    summaries = cf.list_stack_resources(StackName="zonehop-member")["StackResourceSummaries"]
    missing = sorted(set(template["Resources"]) - {r["LogicalResourceId"] for r in summaries})
    if missing:
        raise DeploymentFailed(f"member-role.yaml in {account}: not created: {missing}")
    role = client("iam", endpoint, keys).get_role(RoleName="zonehop")["Role"]
    return {"account": account, "stack": "zonehop-member", "registrar": registrar,
            "roleArn": role["Arn"],
            "resources": {r["LogicalResourceId"]: {"type": r["ResourceType"],
                                                    "physicalId": r["PhysicalResourceId"],
                                                    "createdBy": "cloudformation"}
                          for r in summaries}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--stack", default="zonehop")
    parser.add_argument("--template", default=os.path.join(ROOT, "infra", "template.yaml"))
    parser.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--member", action="append", default=[], metavar="ACCOUNT[:registrar]")
    args = parser.parse_args(argv)
    given = dict(p.split("=", 1) for p in args.parameter)
    started = time.monotonic()
    try:
        # In the README's order: the member roles first (Deploy, step 1), then the tooling
        # stack (step 2), whose MemberRoleArns name them.
        members = [
            deploy_member(args.endpoint, m.split(":")[0], m.endswith(":registrar"),
                          given.get("MemberRoleExternalId", ""))
            for m in args.member
        ]
        deployment = deploy_tooling(args.endpoint, args.stack, args.template, given)
        deployment["members"] = members
    except DeploymentFailed as e:
        print(f"deployment failed: {e}", file=sys.stderr, flush=True)
        return 1
    deployment["seconds"] = round(time.monotonic() - started, 2)
    print(json.dumps(deployment, indent=1, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
