"""moto server for zonehop's local world, with the patches zonehop's tests need.

Run by the Rust test harness (and the benchmarks) as

    .venv/bin/python tests/world/moto_server.py --host 127.0.0.1 --port PORT

It imports moto 5.2.5, applies the patches below, serves moto's usual HTTP API (including
/moto-api/reset and /moto-api/config) on HOST:PORT, prints one line `READY <port>` to stdout once
the socket accepts connections (`--port 0` picks a free port and READY tells which), and runs in the
foreground until SIGTERM or SIGINT. Request logs go to stderr only with --log-requests.

Patches (each verified against moto 5.2.5; each is a function below):

a. list_health_checks: moto's ListHealthChecks reply lacks IsTruncated and MaxItems, and
   octodns-route53 stops with a KeyError on it. The reply gets `IsTruncated=false` and `MaxItems`
   (every health check is returned on one page).

b. distinct name servers: moto gives every hosted zone the same four name servers
   (ns-2048.awsdns-64.com ...), which makes any name-server swap a no-op. Here each hosted zone gets
   its own four, numbered by creation order:

       zone N (N = 1, 2, ...):      ns1.zN.zonehop-dns.test  ns2.zN.zonehop-dns.test
                                    ns3.zN.zonehop-dns.test  ns4.zN.zonehop-dns.test
       reusable delegation set M:   ns1.rM.zonehop-dns.test  ...  ns4.rM.zonehop-dns.test

   N counts every CreateHostedZone without a DelegationSetId in this process, across all accounts
   (so a source and a target account never share servers); M counts CreateReusableDelegationSet
   calls without a HostedZoneId. Both restart at 1 after `POST /moto-api/reset`. As in AWS, the
   DelegationSet lists the names without a trailing dot, and the apex NS record holds them with one
   (`ns1.z1.zonehop-dns.test.`); the SOA's MNAME is the first of them, and the SOA value is plain
   text (moto 5.2.5 returned the Python repr of a dict there). A zone's own DelegationSet has no
   Id or CallerReference, as in Route 53. The local DNS world serves these names (addresses in
   the zone `zonehop-dns.test.`).
   Reusable delegation sets behave as in AWS: a zone created with DelegationSetId gets that set's
   servers (NoSuchDelegationSet when it does not exist; moto used to overwrite the set with its
   default servers), a set created from a HostedZoneId takes that zone's servers, and a zone's own
   servers are no longer listed by ListReusableDelegationSets.

c. Lambda invokes forwarded to `cargo lambda watch`, only with `--lambda-endpoint URL` (or the
   environment variable ZONEHOP_LAMBDA_ENDPOINT), e.g. `--lambda-endpoint http://127.0.0.1:9000`.
   It also switches moto's Step Functions interpreter on and Docker off (as
   `POST /moto-api/config {"stepfunctions": {"execute_state_machine": true},
   "lambda": {"use_docker": false}}` does; a reset keeps that), so a harness only registers its
   functions (CreateFunction, under their binary names) and its state machine. An invoke of a
   registered function becomes `POST URL/2015-03-31/functions/NAME/invocations`; a function
   error (cargo lambda watch: HTTP 500) comes back as Lambda sends it, 200 with
   `X-Amz-Function-Error: Unhandled` and {errorType, errorMessage}, so a state machine's
   Retry/Catch match on errorType. Details in patch_lambda_invoke_forwarding.

d. routing fields: moto drops CidrRoutingConfig, GeoProximityLocation and
   TrafficPolicyInstanceId from record sets; they are kept and returned as Route 53 does.

e. CREATE conflicts: moto refuses a CREATE that repeats an earlier change whenever any record
   sorts after it (so re-creating a deleted record, as a rollback does, failed); a CREATE is
   refused exactly when its name, type and set identifier exist, as in Route 53.

f. Route 53 Domains: a second UpdateDomainNameservers on a domain is refused only while the
   first is in progress (moto refused it forever, so a swap could not be rolled back).

h. task tokens: moto's interpreter hangs a `.waitForTaskToken` task that has HeartbeatSeconds
   when SendTaskSuccess/Failure arrives between the TaskScheduled event and the moment the task
   starts waiting (the outcome is stored, but the heartbeat wait it would have woken is set up
   after it and then sleeps for HeartbeatSeconds). A heartbeat endpoint set up after an outcome
   arrived now starts woken, so the task ends with that outcome, as in Step Functions.

i. DynamoDB writes are atomic: moto's server handles requests on several threads and checks a
   ConditionExpression, then writes, with nothing in between held, so two conditional PutItems
   racing for one key could both succeed (seen: 1 round in 20). DynamoDB documents a conditional
   write as atomic; every PutItem, UpdateItem, DeleteItem and TransactWriteItems of the backend
   now runs under one lock (zonehop's ledger takes its lock with such a write).

j. Step Functions' own integration (`arn:aws:states:::states:startExecution`, `.sync`,
   `.sync:2`; the fleet state machine starts each domain's migration with it): moto 5.2.5 left
   this integration's request and response normalisation empty, so the task's parameters
   (`StateMachineArn`, `Input`, `Name`, as ASL writes them) reached botocore unconverted and
   every StartExecution failed with States.Runtime (KeyError 'StateMachineArn'), and the
   DescribeExecution result came back in boto's casing. The parameters now become the API's
   member names and the result gets Step Functions' casing (`ExecutionArn`, `Status`,
   `Output`, `Error`, `Cause` ...), dates as epoch milliseconds, as the integration returns
   them; done with moto's own helpers (`_to_boto_request`, `_from_boto_response`), for this
   one integration only. A StartExecution without `Name` gets a UUID, as in Step Functions
   (moto named every such execution "None", so the second collided).

k. Route 53 Domains' registration quota: moto 5.2.5 refuses a 21st registration in an account
   (DomainLimitExceeded), AWS's default quota of 20, which AWS raises on request; an account
   consolidating tens to thousands of domains has it raised. Here the quota is 5,000, so a fleet
   rehearsal registers all its domains in one account (`make rehearse-fleet N=50`).

g. Route 53 Domains TLDs: moto 5.2.5 registers only the TLDs of its own list
   (moto/route53domains/validators.py, AWS_SUPPORTED_TLDS, checked against the last label of the
   name), which lacks 33 that Route 53 Domains registers (`uk`, `au`, `de`, `fr`, `jp`, `us` ...),
   so a rehearsal of an `example.co.uk` zone could not register its domain. The TLD of every
   suffix in tests/world/route53domains-tlds.txt (AWS's published list, "Domains that you can
   register with Amazon Route 53") is added; moto's own entries stay (none is removed).
l. CloudFormation, for deploying infra/template.yaml (SAM-translated) into moto: `!Ref` of an
   AWS::Events::EventBus is its name, as in CloudFormation (moto returned the Python object, so a
   rule on the bus failed); an AWS::StepFunctions::StateMachine gets its
   DefinitionSubstitutions filled into the definition, as CloudFormation does (moto ignored
   them and created the state machine with its `${...}` placeholders), and is created in the
   backend the Step Functions API serves (with the interpreter on, moto's API reads another
   backend than its CloudFormation wrote: the state machine was invisible); an IAM role's
   policy that is `!Ref AWS::NoValue` is dropped, as in CloudFormation (moto failed on it).

m. EventBridge targets: moto's rules deliver to log groups, SQS, archives and other buses only,
   and raise NotImplementedError for any other target, which failed the whole PutEvents. A Step
   Functions state machine target starts an execution with the rule's InputPath (or Input, or
   InputTransformer, or the whole event), as EventBridge does (moto checks no IAM, so the
   target's RoleArn is not used); an SNS topic target publishes the (transformed)
   event to the topic. An InputTransformer quotes a string put outside a JSON string and
   gives null for a missing path, as EventBridge does (moto broke NeedsOperatorRule's
   template, which failed PutEvents).
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import signal
import sys
import threading
from typing import Any

from werkzeug.serving import make_server

import moto
from moto.core.base_backend import BackendDict
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.route53 import models as r53_models
from moto.route53 import responses as r53_responses
from moto.route53.exceptions import NoSuchDelegationSet

EXPECTED_MOTO_VERSION = "5.2.5"
NS_DOMAIN = "zonehop-dns.test"


# ---------------------------------------------------------------------------------------------
# a. ListHealthChecks: add IsTruncated / MaxItems
# ---------------------------------------------------------------------------------------------
def patch_list_health_checks() -> None:
    """Make ListHealthChecks carry IsTruncated (and MaxItems, Marker) like Route 53 does.

    moto 5.2.5 returns only <HealthChecks>; octodns-route53 reads resp['IsTruncated'] and fails.
    moto returns all health checks at once, so the reply is never truncated.
    """

    def list_health_checks(self: r53_responses.Route53) -> r53_responses.ActionResult:
        health_checks = self.backend.list_health_checks()
        result: dict[str, Any] = {
            "HealthChecks": health_checks,
            "Marker": self._get_param("Marker") or "",
            "IsTruncated": False,
            "MaxItems": str(self._get_param("MaxItems") or 100),
        }
        return r53_responses.ActionResult(result)

    r53_responses.Route53.list_health_checks = list_health_checks  # type: ignore[method-assign]


# ---------------------------------------------------------------------------------------------
# b. Distinct name servers per hosted zone
# ---------------------------------------------------------------------------------------------
_ns_lock = threading.Lock()
_ns_counters: dict[str, itertools.count] = {}
_zone_creation = threading.local()


def _fresh_name_servers(kind: str) -> list[str]:
    """The next four names of a kind ('z': a zone's own set, 'r': a reusable set)."""
    with _ns_lock:
        n = next(_ns_counters.setdefault(kind, itertools.count(1)))
    return [f"ns{i}.{kind}{n}.{NS_DOMAIN}" for i in range(1, 5)]


def _reset_name_server_counters() -> None:
    with _ns_lock:
        _ns_counters.clear()


def _fix_apex_records(zone: Any) -> None:
    """Write the apex NS and SOA records that create_hosted_zone made the way Route 53 does.

    NS values become absolute names with a trailing dot. moto 5.2.5 stores the SOA value as a dict
    ({'Value': '...'}) where it stores plain strings everywhere else, so ListResourceRecordSets
    returned the dict's Python repr as the SOA value; it becomes the plain string.
    """
    for rrset in zone.rrsets:
        if rrset.name != zone.name:
            continue
        if rrset.type == "NS":
            rrset.records = [r if r.endswith(".") else f"{r}." for r in rrset.records]
        elif rrset.type == "SOA":
            rrset.records = [r["Value"] if isinstance(r, dict) else r for r in rrset.records]


def patch_distinct_name_servers() -> None:
    """Give every hosted zone (and every reusable delegation set) its own four name servers.

    moto's Route53Backend.create_hosted_zone builds the zone's servers by calling
    create_reusable_delegation_set(caller_reference="DelSet_<name>", delegation_set_id=...), which
    made a DelegationSet with moto's four fixed names and stored it among the reusable sets.
    While a zone is being created (flag below), that call now returns a fresh unstored set, or the
    existing reusable set named by DelegationSetId. The NS and SOA records moto writes at the apex
    come from that set; the NS values then get AWS's trailing dot.
    """
    backend_cls = r53_models.Route53Backend
    original_create_hosted_zone = backend_cls.create_hosted_zone

    def create_reusable_delegation_set(
        self: r53_models.Route53Backend,
        caller_reference: str,
        delegation_set_id: str | None = None,
        hosted_zone_id: str | None = None,
    ) -> r53_models.DelegationSet:
        if getattr(_zone_creation, "active", False):
            # Called by create_hosted_zone for the zone's own servers.
            if delegation_set_id:
                if delegation_set_id not in self.delegation_sets:
                    raise NoSuchDelegationSet(delegation_set_id)
                return self.delegation_sets[delegation_set_id]
            return r53_models.DelegationSet(caller_reference, _fresh_name_servers("z"), None)
        # The CreateReusableDelegationSet API.
        if hosted_zone_id:
            zone = self.get_hosted_zone(hosted_zone_id)
            name_servers = list(zone.delegation_set.name_servers)  # type: ignore[union-attr]
        else:
            name_servers = _fresh_name_servers("r")
        delegation_set = r53_models.DelegationSet(caller_reference, name_servers, delegation_set_id)
        self.delegation_sets[delegation_set.id] = delegation_set
        return delegation_set

    def create_hosted_zone(self: r53_models.Route53Backend, *args: Any, **kwargs: Any) -> Any:
        _zone_creation.active = True
        try:
            zone = original_create_hosted_zone(self, *args, **kwargs)
        finally:
            _zone_creation.active = False
        if zone.delegation_set is not None and not zone.delegation_set.id:
            # A zone's own set has no Id or CallerReference in Route 53's replies (moto: "" and
            # "DelSet_<name>").
            zone.delegation_set.id = None
            zone.delegation_set.caller_reference = None
        _fix_apex_records(zone)
        return zone

    backend_cls.create_reusable_delegation_set = create_reusable_delegation_set  # type: ignore[method-assign]
    backend_cls.create_hosted_zone = create_hosted_zone  # type: ignore[method-assign]

    # POST /moto-api/reset ends in BackendDict.reset(): numbering starts again at 1 after it.
    original_reset = BackendDict.reset.__func__  # type: ignore[attr-defined]

    def reset(cls: type) -> None:
        original_reset(cls)
        _reset_name_server_counters()

    BackendDict.reset = classmethod(reset)  # type: ignore[method-assign, assignment]


# ---------------------------------------------------------------------------------------------
# d. Record sets keep every routing field Route 53 returns
# ---------------------------------------------------------------------------------------------
def patch_record_set_routing_fields() -> None:
    """Keep CidrRoutingConfig, GeoProximityLocation and TrafficPolicyInstanceId on record sets.

    moto 5.2.5's RecordSet drops these three fields on write, so ListResourceRecordSets returns
    an IP-based or geoproximity record as if it had no routing policy. Its response serializer
    reads attributes by the API member name, so storing them is enough to return them.
    """
    original_init = r53_models.RecordSet.__init__

    def init(self: Any, kwargs: dict[str, Any]) -> None:
        original_init(self, kwargs)
        self.cidr_routing_config = kwargs.get("CidrRoutingConfig")
        self.geo_proximity_location = kwargs.get("GeoProximityLocation")
        self.traffic_policy_instance_id = kwargs.get("TrafficPolicyInstanceId")

    r53_models.RecordSet.__init__ = init  # type: ignore[method-assign]


# ---------------------------------------------------------------------------------------------
# e. CREATE conflicts: exactly the record sets that exist, as in Route 53
# ---------------------------------------------------------------------------------------------
def patch_exact_create_conflicts() -> None:
    """Refuse a CREATE exactly when its record set exists (after the batch's earlier changes).

    moto 5.2.5 refuses a CREATE that repeats an earlier change of the zone's journal whenever
    ANY record set sorts at or after it (it lists from that name onward instead of looking the
    name up), so re-creating a deleted record, which a rollback does, fails with "already
    exists" in a zone where Route 53 accepts it. Route 53 refuses a CREATE of a name, type and
    set identifier that exist, taking the same batch's earlier DELETEs into account.
    """
    from moto.route53.exceptions import ResourceRecordAlreadyExists

    # moto's own check runs only for CREATEs found in the journal: never, from here on.
    r53_models.ChangeList.__contains__ = lambda self, item: False  # type: ignore[method-assign, assignment, misc]
    original = r53_models.Route53Backend.change_resource_record_sets

    def key(name: str, rtype: Any, set_identifier: Any) -> tuple[str, Any, Any]:
        return (name.rstrip(".").lower(), rtype, set_identifier)

    def change_resource_record_sets(
        self: Any, zoneid: str, change_list: list[dict[str, Any]]
    ) -> None:
        zone = self.get_hosted_zone(zoneid)
        present = {key(r.name, r.type, r.set_identifier) for r in zone.rrsets}
        for value in change_list:
            record = value["ResourceRecordSet"]
            k = key(record["Name"], record["Type"], record.get("SetIdentifier"))
            if value["Action"] == "DELETE":
                present.discard(k)
            elif value["Action"] == "CREATE":
                if k in present:
                    raise ResourceRecordAlreadyExists(
                        name=record["Name"].rstrip(".") + ".", _type=record["Type"]
                    )
                present.add(k)
            else:
                present.add(k)
        return original(self, zoneid, change_list)

    r53_models.Route53Backend.change_resource_record_sets = change_resource_record_sets  # type: ignore[method-assign]


def patch_delete_by_set_identifier() -> None:
    """A DELETE of a routed record set removes that record set only.

    moto 5.2.5 deletes, for a DELETE with a SetIdentifier, every record set of the zone with
    that identifier, whatever its name and type: deleting `fo2.example.com A [primary]` also
    deleted `fo1.example.com A [primary]`. Route 53 deletes the record set of that name, type
    and set identifier.
    """

    def key(name: str, rtype: Any, set_identifier: Any) -> tuple[str, Any, Any]:
        return (name.rstrip(".").lower(), rtype, set_identifier)

    def delete_rrset_by_id(self: Any, set_identifier: str) -> None:
        queue = getattr(self, "_zonehop_deletes", None) or []
        wanted = queue.pop(0) if queue and queue[0][2] == set_identifier else None
        self.rrsets = [
            r
            for r in self.rrsets
            if r.set_identifier != set_identifier
            or (wanted is not None and key(r.name, r.type, r.set_identifier) != wanted)
        ]

    original = r53_models.Route53Backend.change_resource_record_sets

    def change_resource_record_sets(
        self: Any, zoneid: str, change_list: list[dict[str, Any]]
    ) -> None:
        zone = self.get_hosted_zone(zoneid)
        # moto calls delete_rrset_by_id with the identifier only, once per such DELETE in
        # the batch's order: queue each one's name and type for it, the batch kept whole.
        deletes = [
            c["ResourceRecordSet"]
            for c in change_list
            if c["Action"] == "DELETE" and "SetIdentifier" in c["ResourceRecordSet"]
        ]
        zone._zonehop_deletes = [
            key(r["Name"], r.get("Type"), r["SetIdentifier"]) for r in deletes
        ]
        try:
            return original(self, zoneid, change_list)
        finally:
            zone._zonehop_deletes = None

    r53_models.FakeZone.delete_rrset_by_id = delete_rrset_by_id  # type: ignore[method-assign]
    r53_models.Route53Backend.change_resource_record_sets = change_resource_record_sets  # type: ignore[method-assign]


# ---------------------------------------------------------------------------------------------
# f. Route 53 Domains: DuplicateRequest only while an operation is in progress
# ---------------------------------------------------------------------------------------------
def patch_domains_duplicate_requests() -> None:
    """Refuse a second operation of a type on a domain only while the first is in progress.

    moto 5.2.5 refuses a second UpdateDomainNameservers on a domain forever (DuplicateRequest),
    although its operations finish at once (SUCCESSFUL). Route 53 Domains refuses one only while
    another is SUBMITTED or IN_PROGRESS, so a swap can be rolled back.
    """
    from moto.route53domains import models as domains_models
    from moto.route53domains.exceptions import DuplicateRequestException

    backend = domains_models.Route53DomainsBackend

    def validate(self: Any, requested: Any) -> None:
        for operation in self._Route53DomainsBackend__operations.values():
            if (
                operation.domain_name == requested.domain_name
                and operation.type == requested.type
                and operation.status in ("SUBMITTED", "IN_PROGRESS")
            ):
                raise DuplicateRequestException()

    backend._Route53DomainsBackend__validate_duplicate_operations = validate  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------
# g. Route 53 Domains: TLDs moto's list lacks
# ---------------------------------------------------------------------------------------------
ROUTE53DOMAINS_TLDS_FILE = os.path.join(os.path.dirname(__file__), "route53domains-tlds.txt")


def route53domains_tlds(path: str = ROUTE53DOMAINS_TLDS_FILE) -> list[str]:
    """The TLDs (last labels) of the suffixes in AWS's list: `co.uk` gives `uk`."""
    tlds: list[str] = []
    with open(path, encoding="utf-8") as listing:
        for line in listing:
            suffix = line.split("#", 1)[0].strip().lower()
            if suffix and suffix.rsplit(".", 1)[-1] not in tlds:
                tlds.append(suffix.rsplit(".", 1)[-1])
    return tlds


def patch_domains_registrable_tlds() -> None:
    """Accept every TLD Route 53 Domains registers (AWS's list), beside moto 5.2.5's own."""
    from moto.route53domains import validators

    # validate_domain_name reads the module global at each call.
    validators.AWS_SUPPORTED_TLDS = tuple(validators.AWS_SUPPORTED_TLDS) + tuple(
        tld for tld in route53domains_tlds() if tld not in validators.AWS_SUPPORTED_TLDS
    )


# ---------------------------------------------------------------------------------------------
# h. Step Functions: an outcome that arrives before the heartbeat wait is set up
# ---------------------------------------------------------------------------------------------
def patch_task_token_early_outcome() -> None:
    """Wake a heartbeat endpoint created after its task's outcome already arrived."""
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint

    original = CallbackEndpoint.setup_heartbeat_endpoint

    def setup_heartbeat_endpoint(self: Any, heartbeat_seconds: int) -> Any:
        endpoint = original(self, heartbeat_seconds)
        # notify() stores the outcome before it looks for a heartbeat endpoint: either it saw
        # this one, or the outcome is visible here.
        if self.get_outcome() is not None:
            endpoint.notify()
        return endpoint

    CallbackEndpoint.setup_heartbeat_endpoint = setup_heartbeat_endpoint  # type: ignore[method-assign]


# ---------------------------------------------------------------------------------------------
# i. DynamoDB: conditional writes are atomic
# ---------------------------------------------------------------------------------------------
def patch_dynamodb_atomic_writes() -> None:
    """Serialize the DynamoDB backend's writes, so a condition and its write are one step."""
    import threading

    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        original = getattr(DynamoDBBackend, name)

        def serialized(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return __original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, serialized)


# ---------------------------------------------------------------------------------------------
# k. Route 53 Domains: a raised registration quota
# ---------------------------------------------------------------------------------------------
ROUTE53DOMAINS_QUOTA = 5000


def patch_domains_registration_quota() -> None:
    """Let an account hold ROUTE53DOMAINS_QUOTA registrations (moto: 20, AWS's default)."""
    from moto.route53domains import models as domains_models

    domains_models.Route53DomainsBackend.DEFAULT_MAX_DOMAINS_COUNT = ROUTE53DOMAINS_QUOTA


# ---------------------------------------------------------------------------------------------
# j. Step Functions' own integration: parameters and results in the right casing
# ---------------------------------------------------------------------------------------------
def patch_sfn_integration_casing() -> None:
    """Normalise `states:startExecution[.sync[:2]]` requests and results as Step Functions does."""
    import datetime

    import uuid

    import botocore.session
    from botocore import xform_name
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
        StateTaskServiceSfn,
    )

    model = botocore.session.get_session().get_service_model("stepfunctions")
    operations = {xform_name(name): name for name in model.operation_names}

    def operation(self: Any, service_action_name: str | None) -> Any:
        action = self._get_boto_service_action(service_action_name=service_action_name)
        name = operations.get(action)
        return model.operation_model(name) if name else None

    def millis(value: Any) -> Any:
        if isinstance(value, datetime.datetime):
            return int(value.timestamp() * 1000)
        if isinstance(value, dict):
            return {k: millis(v) for k, v in value.items()}
        if isinstance(value, list):
            return [millis(v) for v in value]
        return value

    original = StateTaskServiceSfn._normalise_parameters

    def normalise_parameters(
        self: Any,
        parameters: dict,
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        original(self, parameters, boto_service_name, service_action_name)
        op = operation(self, service_action_name)
        if op is not None and op.name == "StartExecution" and not parameters.get("Name"):
            # Step Functions names an execution started without a Name with a UUID (moto's
            # backend named every such execution "None", so the second one collided).
            parameters["Name"] = str(uuid.uuid4())
        if op is not None and op.input_shape is not None:
            self._to_boto_request(parameters, op.input_shape)

    def normalise_response(
        self: Any,
        response: Any,
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        op = operation(self, service_action_name)
        if op is not None and op.output_shape is not None and isinstance(response, dict):
            self._from_boto_response(response, op.output_shape)
            for key, value in list(response.items()):
                response[key] = millis(value)

    StateTaskServiceSfn._normalise_parameters = normalise_parameters  # type: ignore[method-assign]
    StateTaskServiceSfn._normalise_response = normalise_response  # type: ignore[method-assign]


# ---------------------------------------------------------------------------------------------
# c. Lambda invokes -> cargo lambda watch
# ---------------------------------------------------------------------------------------------
# Seconds a forwarded invoke may take: the first invoke of a function waits for cargo lambda
# watch to build it (minutes on 2 cores), and Lambda's own ceiling is 900 s.
LAMBDA_FORWARD_TIMEOUT = 1800.0


BINARY_TAG = "zonehop:binary"


def patch_lambda_invoke_forwarding(endpoint: str | None) -> None:
    """Forward moto's Docker-free Lambda invokes to `cargo lambda watch` at `endpoint`.

    Only with `--lambda-endpoint URL` (or ZONEHOP_LAMBDA_ENDPOINT); without it moto's Docker-free
    backend keeps echoing the payload. With it, this process also runs as if
    `POST /moto-api/config {"stepfunctions": {"execute_state_machine": true},
    "lambda": {"use_docker": false}}` had been sent: Step Functions executions run in moto's
    interpreter and Lambda calls reach LambdaSimpleBackend, whose `invoke` becomes:

    - the function must exist in moto (CreateFunction in the caller's account), else
      ResourceNotFoundException as in Lambda; the name sent to cargo lambda watch is the
      function's own name (an ARN, a partial ARN or a qualifier reduce to it), so functions are
      registered in moto under their binary names, or the binary its `zonehop:binary` tag
      names (a function of a stack deployed by deploy_stack.py, named by CloudFormation);
    - `POST {endpoint}/2015-03-31/functions/{name}/invocations` with the payload; a 200 answer is
      the result;
    - a 500 answer is a function error (cargo lambda watch's way; real Lambda answers 200 with
      `X-Amz-Function-Error: Unhandled`): the invoke returns 200, that header and the
      {errorType, errorMessage} body, so moto's Step Functions interpreter raises `errorType`
      for Retry/Catch. A 500 body without errorType becomes Runtime.ExitError;
    - any other answer, or no answer, is a Lambda service error (ServiceException, HTTP 500; a
      state machine sees `Lambda.ServiceException`);
    - InvocationType Event forwards in the background and returns 202 at once; DryRun only
      checks that the function exists.
    """
    if not endpoint:
        return
    import json
    import urllib.error
    import urllib.request
    from urllib.parse import quote

    from moto.awslambda.exceptions import LambdaClientError
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.core.config import default_user_config

    base = endpoint.rstrip("/")

    class ServiceException(LambdaClientError):
        code = 500

        def __init__(self, message: str) -> None:
            super().__init__("ServiceException", message)

    def forward(name: str, payload: bytes) -> tuple[int, bytes]:
        request = urllib.request.Request(
            f"{base}/2015-03-31/functions/{quote(name, safe='')}/invocations",
            data=payload,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=LAMBDA_FORWARD_TIMEOUT) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except (OSError, urllib.error.URLError) as e:
            raise ServiceException(f"cargo lambda watch at {base} did not answer: {e}") from e

    def invoke(
        self: LambdaSimpleBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> str | bytes | None:
        function = self.get_function(function_name, qualifier)
        # A function of a deployed stack (its CloudFormation name) runs the binary its tag
        # names (deploy_stack.py: the template's Metadata.BuildProperties.Binary, what
        # `sam build` puts in its code); any other under its own name.
        name = (getattr(function, "tags", None) or {}).get(
            BINARY_TAG, function.function_name
        )
        if body is None or body == "":
            payload = b"{}"
        elif isinstance(body, bytes):
            payload = body
        else:
            payload = str(body).encode("utf-8")
        invocation_type = (headers or {}).get("X-Amz-Invocation-Type") or "RequestResponse"
        if invocation_type == "DryRun":
            return b""
        if invocation_type == "Event":
            threading.Thread(
                target=lambda: forward(name, payload), name=f"invoke-{name}", daemon=True
            ).start()
            return b""
        status, result = forward(name, payload)
        response_headers["X-Amz-Executed-Version"] = "$LATEST"
        if status == 500:
            try:
                error = json.loads(result)
            except ValueError:
                error = None
            if not isinstance(error, dict) or "errorType" not in error:
                error = {
                    "errorType": "Runtime.ExitError",
                    "errorMessage": result.decode("utf-8", "replace"),
                }
                result = json.dumps(error).encode("utf-8")
            response_headers["X-Amz-Function-Error"] = "Unhandled"
        elif status != 200:
            raise ServiceException(
                f"cargo lambda watch answered {status} for {name}: "
                f"{result.decode('utf-8', 'replace')[:500]}"
            )
        response_headers["Content-Length"] = str(len(result))
        return result

    LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign]
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    default_user_config["lambda"] = {"use_docker": False}


# ---------------------------------------------------------------------------------------------
# l. CloudFormation: the event bus's Ref, a state machine's DefinitionSubstitutions
# ---------------------------------------------------------------------------------------------
def patch_cloudformation_for_the_stack() -> None:
    from moto.events import models as events_models
    from moto.stepfunctions import models as sfn_models
    from moto.stepfunctions.responses import get_backend
    from moto.stepfunctions.utils import cfn_to_api_tags

    events_models.EventBus.physical_resource_id = property(  # type: ignore[attr-defined]
        lambda self: self.name
    )

    def create_from_cloudformation_json(
        cls: Any,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        properties = cloudformation_json["Properties"]
        name = properties.get("StateMachineName", resource_name)
        definition = properties.get("DefinitionString", "")
        for key, value in (properties.get("DefinitionSubstitutions") or {}).items():
            definition = definition.replace("${" + key + "}", str(value))
        role_arn = properties.get("RoleArn", "")
        tags = cfn_to_api_tags(properties.get("Tags", []))
        backend = get_backend(account_id, region_name)
        return backend.create_state_machine(name, definition, role_arn, tags=tags)

    sfn_models.StateMachine.create_from_cloudformation_json = classmethod(  # type: ignore[method-assign]
        create_from_cloudformation_json
    )

    # `!If [cond, policy, !Ref AWS::NoValue]` in a role's Policies: CloudFormation drops the
    # item; moto kept None and failed on it.
    from moto.iam import models as iam_models

    role_create = iam_models.Role.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_role(cls: Any, resource_name: str, cloudformation_json: Any, *args: Any,
                    **kwargs: Any) -> Any:
        properties = cloudformation_json.get("Properties", {})
        if "Policies" in properties:
            properties["Policies"] = [p for p in properties["Policies"] if p is not None]
        return role_create(cls, resource_name, cloudformation_json, *args, **kwargs)

    iam_models.Role.create_from_cloudformation_json = classmethod(create_role)  # type: ignore[method-assign]


# ---------------------------------------------------------------------------------------------
# m. EventBridge: Step Functions and SNS targets
# ---------------------------------------------------------------------------------------------
def _json_path(document: Any, path: str) -> Any:
    """The value at a JSONPath of the form `$` or `$.a.b` (what rules' InputPath uses)."""
    if path in ("$", ""):
        return document
    value = document
    for key in path.removeprefix("$.").split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _transform_input(template: str, paths: dict[str, str], event: Any) -> str:
    """An InputTransformer's output as EventBridge makes it: a placeholder inside a JSON
    string gets the value's text, elsewhere its JSON (a string quoted, a missing path null).
    moto inserted strings unquoted and left missing paths as `<name>`, so a template like
    NeedsOperatorRule's failed PutEvents altogether."""
    import json

    values = {name: _json_path(event, path) for name, path in paths.items()}
    values["aws.events.event.json"] = event
    out: list[str] = []
    rest = template
    while "<" in rest:
        before, _, after = rest.partition("<")
        name, closed, tail = after.partition(">")
        out.append(before)
        if not closed or name not in values:
            out.append("<")
            rest = after
            continue
        value = values[name]
        inside_string = "".join(out).replace('\\"', "").count('"') % 2 == 1
        if inside_string:
            out.append(value if isinstance(value, str) else json.dumps(value))
        else:
            out.append(json.dumps(value))
        rest = tail
    out.append(rest)
    return "".join(out)


def patch_events_targets() -> None:
    import json

    from moto.events import models as events_models
    from moto.stepfunctions.responses import get_backend
    from moto.utilities.arns import parse_arn

    original = events_models.Rule.send_to_targets

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        if not self.event_pattern.matches_event(original_event):
            return
        others = []
        for target in self.targets:
            arn = parse_arn(target["Arn"])
            if arn.service not in ("states", "sns"):
                others.append(target)
                continue
            if "InputTransformer" in target:
                transformer = target["InputTransformer"]
                delivered: Any = _transform_input(
                    transformer.get("InputTemplate") or "<aws.events.event.json>",
                    transformer.get("InputPathsMap", {}),
                    original_event,
                )
            elif "Input" in target:
                delivered = target["Input"]
            else:
                delivered = _json_path(original_event, target.get("InputPath") or "$")
            text = delivered if isinstance(delivered, str) else json.dumps(delivered)
            if arn.service == "states":
                get_backend(arn.account, arn.region).start_execution(target["Arn"], None, text)
            else:
                from moto.sns.models import sns_backends

                sns_backends[arn.account][arn.region].publish(message=text, arn=target["Arn"])
        if others:
            saved = self.targets
            self.targets = others
            try:
                original(self, original_event, transform_input)
            finally:
                self.targets = saved

    events_models.Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]


def apply_patches(lambda_endpoint: str | None = None) -> None:
    patch_list_health_checks()
    patch_distinct_name_servers()
    patch_record_set_routing_fields()
    patch_exact_create_conflicts()
    patch_delete_by_set_identifier()
    patch_domains_duplicate_requests()
    patch_domains_registrable_tlds()
    patch_task_token_early_outcome()
    patch_dynamodb_atomic_writes()
    patch_sfn_integration_casing()
    patch_domains_registration_quota()
    patch_cloudformation_for_the_stack()
    patch_events_targets()
    patch_lambda_invoke_forwarding(lambda_endpoint)


# ---------------------------------------------------------------------------------------------
# Server
# ---------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "-H", "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)"
    )
    parser.add_argument("-p", "--port", type=int, default=5000, help="port (0: pick a free one)")
    parser.add_argument("--log-requests", action="store_true", help="log every request to stderr")
    parser.add_argument(
        "--no-patches", action="store_true", help="serve moto as released (for comparisons)"
    )
    parser.add_argument(
        "--lambda-endpoint",
        default=os.environ.get("ZONEHOP_LAMBDA_ENDPOINT") or None,
        metavar="URL",
        help="forward Lambda invokes to this Lambda Invoke API (cargo lambda watch) and run "
        "Step Functions executions (default: $ZONEHOP_LAMBDA_ENDPOINT)",
    )
    args = parser.parse_args(argv)

    if moto.__version__ != EXPECTED_MOTO_VERSION:
        print(
            f"moto_server.py: warning: patches were written for moto {EXPECTED_MOTO_VERSION}, "
            f"found {moto.__version__}",
            file=sys.stderr,
            flush=True,
        )
    if not args.no_patches:
        apply_patches(args.lambda_endpoint)
    elif args.lambda_endpoint:
        print("moto_server.py: --lambda-endpoint ignored with --no-patches", file=sys.stderr)

    if not args.log_requests:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)

    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    # As moto's ThreadedMotoServer does, but bound here in the main thread, so that a port in
    # use fails this process at once (ThreadedMotoServer.start() would wait forever).
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(
        args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler
    )
    port = server.server_address[1]
    serving = threading.Thread(target=server.serve_forever, name="moto-server", daemon=True)
    serving.start()
    # Some moto services build URLs from MOTO_PORT (as moto_server itself sets it).
    os.environ.setdefault("MOTO_PORT", str(port))
    print(f"READY {port}", flush=True)

    while not stop.wait(0.2):
        pass
    server.shutdown()
    serving.join()
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip the interpreter's teardown of moto's many modules (1.5 s); no state outlives the process.
    os._exit(code)
