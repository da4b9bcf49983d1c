"""The control plane in moto's in-process backends: every moto access of the data plane.

moto's request threads change these models while the data plane reads them, so reads
work on copies (rules, targets, policies, role policies, STS sessions) and rely on the
atomicity of single dict operations in CPython. A moto model that changed shape in a new
moto version surfaces here, as an exception from one read.

>>> state = MotoState()
>>> state.bus_exists(BusRef("999999999999", "eu-west-1", "nothing-here"))
False
"""

from __future__ import annotations

import hashlib
import json
import logging
import operator
import re
import string
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from moto.apigateway.exceptions import ApiGatewayException
from moto.backends import get_backend
from moto.core import DEFAULT_ACCOUNT_ID
from moto.iam.models import iam_backends
from moto.logs.models import LogEvent
from moto.moto_api._internal import mock_random
from moto.sqs.models import Message as SqsMessage

from localcloud import arns
from localcloud.apigateway.definition import ApiDocument
from localcloud.apigateway.routing import Route
from localcloud.arns import Arn, BusRef
from localcloud.cache import BoundedCache
from localcloud.errors import AwsApiError
from localcloud.runtime.spec import DeployedFunction
from localcloud.state import ArchiveRef, Credential, Function, Queue, RestApi, Role, Rule

log = logging.getLogger(__name__)

# moto's CreateArchive makes a rule whose one target has this in its InputTemplate.
_ARCHIVE_ARN = re.compile(r'"archive-arn": "(arn:aws[a-z-]*:events:[^"]+)"')


class MotoState:
    """:class:`~localcloud.state.CloudState` on moto's backends (this process's)."""

    default_account = DEFAULT_ACCOUNT_ID

    def __init__(self, cache_size: int = 4096) -> None:
        self._bus_policies = BoundedCache(cache_size)
        self._rules = BoundedCache(cache_size)
        self._archives = BoundedCache(cache_size)
        self._logs_lock = threading.Lock()
        self._roles_lock = threading.Lock()
        self._services: dict[str, Any] = {}

    def _backend(self, service: str, account: str, region: str) -> Any:
        """moto's backend of a service in one account and region (the partition, for the
        global services).

        moto's ``backends[account][region]`` validates the region on every call, which
        costs more than routing an event to a queue: an existing backend is read from
        moto's own dicts directly (both are dict subclasses), so a reset of moto's state
        (which empties them) is seen at once; a missing one is made by moto as usual.
        """
        backends = self._services.get(service)
        if backends is None:
            backends = self._services[service] = get_backend(service)  # type: ignore[call-overload]
        per_account = dict.get(backends, account)
        backend = dict.get(per_account, region) if per_account is not None else None
        return backend if backend is not None else backends[account][region]

    # -- identities -----------------------------------------------------------------------

    def credential(self, access_key: str) -> Credential | None:
        """An access key of moto's IAM: an IAM user's (active keys only) or a role
        session's from STS AssumeRole (with its session token and session ARN
        ``arn:aws:sts::<acct>:assumed-role/<role>/<session>``, IAM User Guide, "IAM
        identifiers"). moto keeps both in the IAM backend of the key's account.
        """
        for account, per_account in list(iam_backends.items()):
            backend = dict.get(per_account, arns.PARTITION)
            key = backend.access_keys.get(access_key) if backend is not None else None
            if key is None:
                continue
            role_arn = getattr(key, "role_arn", None)
            if role_arn:
                session = self._session(account, access_key)
                if session is None:
                    return None
                return Credential(access_key, key.secret_access_key, account,
                                  str(session.arn), str(session.session_token))
            if getattr(key, "status", "Active") != "Active" or not key.user_name:
                return None
            return Credential(access_key, key.secret_access_key, account,
                              arns.iam_user(account, key.user_name), None)
        return None

    def _session(self, account: str, access_key: str) -> Any:
        sessions = list(self._backend("sts", account, arns.PARTITION).assumed_roles)
        for session in reversed(sessions):
            if getattr(session, "access_key_id", None) == access_key:
                return session
        return None

    def issue_session(self, role_arn: str, session_name: str, duration_s: int
                      ) -> Credential:
        """A session made by moto's STS, in the role's account, as AssumeRole makes it."""
        account = arns.parse(role_arn).account
        session = self._backend("sts", account, arns.PARTITION).assume_role(
            region_name="us-east-1", role_session_name=session_name, role_arn=role_arn,
            policy=None, duration=duration_s, external_id=None)
        return Credential(session.access_key_id, session.secret_access_key, account,
                          str(session.arn), str(session.session_token))

    def create_role(self, role_arn: str, trust_policy: str,
                    inline_policies: Mapping[str, str]) -> bool:
        parts = arns.role_parts(role_arn)
        if parts is None:
            raise ValueError(f"not a role ARN: {role_arn}")
        _, account, name = parts
        backend = self._backend("iam", account, arns.PARTITION)
        with self._roles_lock:  # two first AssumeRoles at once create it once
            if any(role.name == name for role in list(backend.roles.values())):
                return False
            backend.create_role(role_name=name, assume_role_policy_document=trust_policy,
                                path="/", permissions_boundary=None, description="",
                                tags=[], max_session_duration=None)
            for policy_name, document in inline_policies.items():
                backend.put_role_policy(name, policy_name, document)
            return True

    def organization_id(self, account: str) -> str | None:
        backend = self._backend("organizations", account, arns.PARTITION)
        try:
            return str(backend.describe_organization()["Organization"]["Id"])
        except Exception:  # moto raises AWSOrganizationsNotInUseException for non-members
            return None

    def role(self, role_arn: str) -> Role | None:
        try:
            account = arns.parse(role_arn).account
            role = self._backend("iam", account, arns.PARTITION).get_role_by_arn(role_arn)
        except Exception:  # moto raises IAMNotFoundException
            return None
        documents = list(role.policies.values())
        for managed in list(role.managed_policies.values()):
            for version in list(managed.versions):
                if version.is_default:
                    documents.append(version.document)
        return Role(role.arn, role.assume_role_policy_document, tuple(documents))

    # -- EventBridge ----------------------------------------------------------------------

    def _bus(self, ref: BusRef) -> Any:
        return self._backend("events", ref.account, ref.region).event_buses.get(ref.name)

    def bus_exists(self, bus: BusRef) -> bool:
        return self._bus(bus) is not None

    def bus_policy(self, bus: BusRef) -> str | None:
        """The bus policy JSON, rebuilt only when moto's statements change."""
        model = self._bus(bus)
        if model is None:
            return None
        statements = getattr(model, "_statements", None)
        key = (id(model), tuple(map(id, list(statements.values()))) if statements else ())
        policy: str | None = self._bus_policies.memo(key, lambda: model.policy)
        return policy

    def rules(self, bus: BusRef) -> list[Rule]:
        """The rules of ``bus``, rebuilt only when moto's rules or targets change.

        Every event asks for them; building them (ARNs, pattern texts, target copies) cost
        more than matching. moto replaces a rule object on PutRule, a target dict on
        PutTargets, and sets ``state`` on Enable/DisableRule: the identity of each of those
        objects tells whether anything changed. The memo holds the objects it compared,
        so none of them can be freed and its identity reused while the memo stands.
        """
        model = self._bus(bus)
        if model is None:
            return []
        seen: list[Any] = []
        for rule in list(model.rules.values()):
            seen += (rule, rule.state, rule.event_pattern, *list(rule.targets))
        cached = self._rules.get((id(model), bus.arn))
        if (cached is not None and len(cached[0]) == len(seen)
                and all(map(operator.is_, cached[0], seen))):
            return list(cached[1])
        rules = self._build_rules(model, bus)
        self._rules[(id(model), bus.arn)] = (seen, tuple(rules))
        return rules

    def _build_rules(self, model: Any, bus: BusRef) -> list[Rule]:
        rules = []
        for rule in list(model.rules.values()):
            try:
                pattern = getattr(rule.event_pattern, "_raw_pattern", None)
                rules.append(Rule(rule.name, rule.arn, rule.account_id, rule.state,
                                  pattern or None, tuple(dict(t) for t in list(rule.targets))))
            except Exception:  # e.g. moto's rule model changed shape: leave this rule out
                log.exception("cannot read rule %s of %s", getattr(rule, "name", "?"), bus.arn)
        return rules

    def archive_of(self, target: Mapping[str, Any]) -> ArchiveRef | None:
        template = (target.get("InputTransformer") or {}).get("InputTemplate", "")
        found: ArchiveRef | None = self._archives.memo(template,
                                                       lambda: self._archive_in(template))
        return found

    @staticmethod
    def _archive_in(template: str) -> ArchiveRef | None:
        match = _ARCHIVE_ARN.search(template)
        if match is None:
            return None
        try:
            arn = arns.parse(match.group(1))
            name, archive_uuid = arns.archive_parts(arn)
        except ValueError:
            return None
        return ArchiveRef(arn.region, arn.account, name, archive_uuid)

    def archive_event(self, archive: ArchiveRef, envelope: Mapping[str, Any]) -> bool:
        model = self._backend("events", archive.account, archive.region).archives.get(archive.name)
        if model is None or model.uuid != archive.uuid:
            return False
        events: list[Any] = model.events
        events.append(dict(envelope))
        return True

    # -- CloudWatch Logs --------------------------------------------------------------------

    def log_group_exists(self, region: str, account: str, group: str) -> bool:
        return group in self._backend("logs", account, region).groups

    def logs_resource_policies(self, region: str, account: str) -> tuple[str, ...]:
        policies = self._backend("logs", account, region).resource_policies
        return tuple(p.policy_document for p in list(policies.values()))

    def append_log_event(self, region: str, account: str, group: str, stream: str,
                         message: str) -> None:
        model = self._backend("logs", account, region).groups[group]
        with self._logs_lock:
            log_stream = model.streams.get(stream)
            if log_stream is None:
                model.create_log_stream(stream)
                log_stream = model.streams[stream]
            if model.subscription_filters:  # moto's path hands the event on to them
                log_stream.put_log_events([{"timestamp": int(time.time() * 1000),
                                            "message": message}])
                return
            # What moto's LogStream.put_log_events does for one event, with one clock
            # read instead of its datetime round trips (a tenth of the routing CPU).
            now = time.time()
            now_ms = int(now * 1000)
            log_stream.last_ingestion_time = datetime.fromtimestamp(now, UTC).replace(
                tzinfo=None)
            log_stream.stored_bytes += len(message)
            log_stream.events.append(LogEvent(now_ms, {"timestamp": now_ms,
                                                       "message": message}))
            log_stream.upload_sequence_token += 1

    # -- SQS --------------------------------------------------------------------------------

    def queue(self, arn: Arn) -> Queue | None:
        model = self._backend("sqs", arn.account, arn.region).queues.get(arn.resource)
        return None if model is None else Queue(model.name, model.policy)

    def send_message(self, arn: Arn, body: str, *, attributes: Mapping[str, str],
                     group_id: str | None, deduplication_id: str | None) -> None:
        """Send as moto's SendMessage does, in time independent of the queue's depth.

        moto 5.2.5's ``SQSBackend.send_message`` reads ``queue.attributes`` to learn
        ContentBasedDeduplication, and that property computes every attribute of the
        queue, ApproximateNumberOfMessages, ...Delayed and ...NotVisible among them, each
        a scan of every message: one send cost O(depth), and a queue filling up slowed
        every delivery (about 30 events/s at a few thousand messages). This makes the
        same message the same way (moto's checks, deduplication id and sequence number,
        group, message attributes, the queue's DelaySeconds) reading the queue's fields
        directly, and hands it to ``Queue.add_message`` as moto does (FIFO deduplication
        window, Lambda event source mappings). A FIFO queue's checks still read every
        attribute (moto's ``_validate_message``): only standard queues skip the scan.
        """
        backend = self._backend("sqs", arn.account, arn.region)
        queue = backend.get_queue(arn.resource)  # QueueDoesNotExist, as SendMessage
        backend._validate_message(queue, message_body=body, delay_seconds=0,
                                  deduplication_id=deduplication_id, group_id=group_id)
        message = SqsMessage(str(mock_random.uuid4()), body, None)
        if queue.content_based_deduplication:
            message.deduplication_id = hashlib.sha256(body.encode("utf-8")).hexdigest()
        if deduplication_id is not None:
            message.deduplication_id = deduplication_id
            message.sequence_number = "".join(mock_random.choice(string.digits)
                                              for _ in range(20))
        if group_id is not None:
            message.group_id = group_id
        if attributes:
            message.message_attributes = {
                name: {"DataType": "String", "StringValue": value}
                for name, value in attributes.items()}
        message.mark_sent(delay_seconds=int(queue.delay_seconds or 0))
        queue.add_message(message)

    # -- Lambda -----------------------------------------------------------------------------

    def function(self, arn: Arn) -> Function | None:
        backend = self._backend("lambda", arn.account, arn.region)
        name, qualifier = arns.function_name(arn)
        try:
            function = backend.get_function(name, qualifier)
        except Exception:  # moto raises UnknownFunctionException
            return None
        try:
            policy = _aws_principals(json.loads(backend.get_policy(name, qualifier))["Policy"])
        except Exception:  # no statements -> moto raises GenericResourcNotFound
            policy = None
        configs = getattr(function, "event_invoke_config", None) or []
        return Function(arn=function.function_arn,
                        timeout_s=float(getattr(function, "timeout", 3) or 3),
                        policy=policy, async_config=configs[-1].config if configs else None)

    # -- the Lambda runtime (localcloud.runtime.spec.LambdaState) ---------------------------

    def _function_model(self, arn: str) -> Any:
        parsed = arns.parse(arn)
        name, qualifier = arns.function_name(parsed)
        try:
            return self._backend("lambda", parsed.account, parsed.region).get_function(
                name, qualifier)
        except Exception:  # moto raises UnknownFunctionException
            return None

    def deployed_function(self, arn: str) -> DeployedFunction | None:
        """The function version a Lambda ARN names, as its worker runs it."""
        model = self._function_model(arn)
        if model is None:
            return None
        variables = getattr(model, "environment_vars", None) or {}
        return DeployedFunction(
            arn=str(model.function_arn), name=str(model.function_name),
            version=str(getattr(model, "version", "$LATEST") or "$LATEST"),
            handler=str(model.handler or ""), runtime=str(model.run_time or ""),
            role=str(model.role), timeout_s=float(getattr(model, "timeout", 3) or 3),
            memory_mb=int(getattr(model, "memory_size", 128) or 128),
            variables={str(k): str(v) for k, v in dict(variables).items()},
            code_key=str(getattr(model, "code_digest", "") or ""),
            package_type=str(getattr(model, "package_type", "Zip") or "Zip"))

    def function_zip(self, function: DeployedFunction) -> bytes:
        """The zip moto keeps for the function (``code_bytes``), checked against the key."""
        model = self._function_model(function.arn)
        if model is None or getattr(model, "code_digest", None) != function.code_key:
            raise LookupError(f"the code of {function.arn} changed or is gone")
        return bytes(model.code_bytes)

    def write_function_logs(self, region: str, account: str, group: str, stream: str,
                            messages: list[str]) -> None:
        """Append a function's log lines, creating its group and stream as Lambda does."""
        backend = self._backend("logs", account, region)
        with self._logs_lock:
            if group not in backend.groups:
                backend.create_log_group(group, {})
            model = backend.groups[group]
            if stream not in model.streams:
                model.create_log_stream(stream)
            now = int(time.time() * 1000)
            model.streams[stream].put_log_events(
                [{"timestamp": now, "message": message} for message in messages])


    # -- API Gateway ------------------------------------------------------------------------

    def rest_api(self, api_id: str) -> RestApi | None:
        """Looked up in every account and region: the stage URL names only the id (moto's
        ids are random, as API Gateway's are)."""
        backends = self._services.get("apigateway")
        if backends is None:
            backends = self._services["apigateway"] = get_backend("apigateway")
        for account, per_region in list(dict.items(backends)):
            for region, backend in list(dict.items(per_region)):
                api = backend.apis.get(api_id)
                if api is not None:
                    return RestApi(account, region, api_id, frozenset(list(api.stages)),
                                   tuple(_routes(api)),
                                   tuple(getattr(api, "binaryMediaTypes", None) or ()))
        return None

    def import_rest_api(self, account: str, region: str, document: ApiDocument,
                        endpoint_types: list[str]) -> dict[str, Any]:
        backend = self._backend("apigateway", account, region)
        with _api_errors():
            api = backend.create_rest_api(
                name=document.title or "", description=document.description or "",
                endpoint_configuration={"types": endpoint_types} if endpoint_types else None)
            backend.put_rest_api(api.id, document.for_moto(), fail_on_warnings=False,
                                 mode="overwrite")
            api.binaryMediaTypes = list(document.binary_media_types)
            return dict(api.to_dict())

    def put_rest_api(self, account: str, region: str, api_id: str, document: ApiDocument,
                     mode: str) -> dict[str, Any]:
        backend = self._backend("apigateway", account, region)
        with _api_errors():
            api = backend.put_rest_api(api_id, document.for_moto(), fail_on_warnings=False,
                                       mode=mode)
            if mode == "overwrite":
                api.binaryMediaTypes = list(document.binary_media_types)
            else:
                api.binaryMediaTypes = list(dict.fromkeys(
                    [*api.binaryMediaTypes, *document.binary_media_types]))
            return dict(api.to_dict())


def _aws_principals(policy: str) -> str:
    """A Lambda policy with AddPermission's account principals as AWS stores them.

    moto keeps ``Principal="123456789012"`` as the bare string; Lambda's GetPolicy shows
    ``{"AWS": "arn:aws:iam::123456789012:root"}`` (Lambda Developer Guide, "Granting
    function access to other accounts").

    >>> _aws_principals('{"Statement": [{"Principal": "123456789012"}]}')
    '{"Statement": [{"Principal": {"AWS": "arn:aws:iam::123456789012:root"}}]}'
    """
    document = json.loads(policy)
    statements = document.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        principal = statement.get("Principal")
        if isinstance(principal, str) and principal != "*":
            statement["Principal"] = {"AWS": principal if principal.startswith("arn:")
                                      else arns.account_root(principal)}
    return json.dumps(document)
@contextmanager
def _api_errors() -> Iterator[None]:
    """moto's API Gateway errors as AwsApiError (code, message, HTTP status)."""
    try:
        yield
    except ApiGatewayException as error:
        raise AwsApiError(error.error_type, error.message, int(error.code)) from None


def _routes(api: Any) -> list[Route]:
    """Every method of every resource of a moto RestAPI, with its integration."""
    routes = []
    for resource in list(api.resources.values()):
        path = resource.get_path()
        for method, model in list(resource.resource_methods.items()):
            integration = model.method_integration
            routes.append(Route(path, method.upper(),
                                getattr(integration, "integration_type", None),
                                getattr(integration, "uri", None)))
    return routes


# --- the whole of moto's state, for a state file (localcloud.persistence) -------------


def moto_backends() -> dict[tuple[str, str, str], Any]:
    """Every moto backend in use, by (service, account, region): the control plane."""
    from moto.core.base_backend import BackendDict

    return {(backends.service_name, account, region): backend
            for backends in list(BackendDict._instances)  # type: ignore[misc]
            for account, region, backend in backends.iter_backends()}


def restore_moto_backends(saved: Mapping[tuple[str, str, str], Any]) -> None:
    """Put saved backends (``moto_backends``) in place of this process's, before any
    request is served.

    >>> restore_moto_backends({}) is None
    True
    """
    for (service, account, region), backend in saved.items():
        per_account = get_backend(service)[account]  # type: ignore[call-overload]
        dict.__setitem__(per_account, region, backend)
