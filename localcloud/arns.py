"""Every ARN the local cloud reads or writes: parsed and built here, nowhere else.

Formats from the AWS General Reference, "Amazon Resource Names (ARNs)", and each
service's "Actions, resources, and condition keys" page; assumed-role session ARNs from
the IAM User Guide, "IAM identifiers".

>>> arn = parse("arn:aws:logs:eu-west-1:111111111111:log-group:/aws/events/x:*")
>>> arn.service, log_group_name(arn)
('logs', '/aws/events/x')
>>> event_bus("eu-west-1", "111111111111", "global-bus")
'arn:aws:events:eu-west-1:111111111111:event-bus/global-bus'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PARTITION = "aws"

_ANY_ARN = re.compile(r"^arn:[^:]+:")
_EVENT_BUS = re.compile(r"^arn:aws[a-z-]*:events:([a-z0-9-]+):(\d{12}):event-bus/(.+)$")
_ROOT = re.compile(r"arn:[^:]+:iam::\d{12}:root")
_ASSUMED_ROLE = re.compile(r"arn:([^:]+):sts::(\d{12}):assumed-role/([^/]+)/(.+)")
_INTEGRATION_FUNCTION = re.compile(
    r"arn:aws[a-z-]*:apigateway:[a-z0-9-]+:lambda:path/2015-03-31/functions/"
    r"(arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[^/]+)/invocations")
_ROLE = re.compile(r"arn:([^:]+):iam::(\d{12}):role/(?:.*/)?([^/]+)")


@dataclass(frozen=True)
class Arn:
    """The six parts of an ARN; ``str()`` gives the ARN back."""

    partition: str
    service: str
    region: str
    account: str
    resource: str

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"


@dataclass(frozen=True)
class AssumedRole:
    """The parts of an STS assumed-role session ARN."""

    partition: str
    account: str
    role: str
    session: str

    @property
    def role_arn(self) -> str:
        """The role's ARN, as ``aws:PrincipalArn`` reports it for the session."""
        return f"arn:{self.partition}:iam::{self.account}:role/{self.role}"


@dataclass(frozen=True)
class BusRef:
    """An event bus by account, region and name.

    >>> BusRef("111111111111", "eu-west-1", "global-bus").arn
    'arn:aws:events:eu-west-1:111111111111:event-bus/global-bus'
    """

    account: str
    region: str
    name: str

    @property
    def arn(self) -> str:
        return event_bus(self.region, self.account, self.name)


# --- parsing -------------------------------------------------------------------------


def parse(arn: str) -> Arn:
    """Split an ARN into its parts; raises ValueError when it is not one.

    >>> parse("arn:aws:sqs:eu-west-1:222222222222:q").service
    'sqs'
    """
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        raise ValueError(f"{arn!r} is not an ARN")
    return Arn(parts[1], parts[2], parts[3], parts[4], parts[5])


def account_of(arn: str | None) -> str | None:
    """The account field of an ARN, or None (not an ARN, or no account in it).

    >>> account_of("arn:aws:iam::222222222222:root"), account_of("*")
    ('222222222222', None)
    """
    if not arn or not _ANY_ARN.match(arn):
        return None
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 and parts[4] else None


def parse_event_bus(arn: str) -> BusRef | None:
    """The bus an event bus ARN names, or None for anything else.

    >>> parse_event_bus("arn:aws:events:eu-west-1:111111111111:event-bus/g")
    BusRef(account='111111111111', region='eu-west-1', name='g')
    """
    match = _EVENT_BUS.match(arn)
    return BusRef(match.group(2), match.group(1), match.group(3)) if match else None


def is_event_bus(arn: Arn) -> bool:
    return arn.service == "events" and arn.resource.startswith("event-bus/")


def bus_of(arn: Arn) -> BusRef:
    """The bus of an event bus target ARN (any partition)."""
    return BusRef(arn.account, arn.region, arn.resource.removeprefix("event-bus/"))


def is_account_root(arn: str) -> bool:
    """``arn:<partition>:iam::<account>:root``: the whole account as a principal."""
    return _ROOT.fullmatch(arn) is not None


def assumed_role(arn: str | None) -> AssumedRole | None:
    """``arn:<p>:sts::<acct>:assumed-role/<role>/<session>`` in parts, or None.

    >>> assumed_role("arn:aws:sts::222222222222:assumed-role/Admin/s1").role_arn
    'arn:aws:iam::222222222222:role/Admin'
    """
    found = _ASSUMED_ROLE.fullmatch(arn) if arn else None
    return AssumedRole(found[1], found[2], found[3], found[4]) if found else None


def role_parts(arn: str) -> tuple[str, str, str] | None:
    """(partition, account, role name) of an IAM role ARN with any path, or None.

    >>> role_parts("arn:aws:iam::111111111111:role/path/r")
    ('aws', '111111111111', 'r')
    """
    found = _ROLE.fullmatch(arn)
    return (found[1], found[2], found[3]) if found else None


def log_group_name(arn: Arn) -> str:
    """The log group name of a log-group ARN, with or without the trailing ``:*``."""
    name = arn.resource.removeprefix("log-group:")
    return name[:-2] if name.endswith(":*") else name


def function_name(arn: Arn) -> tuple[str, str | None]:
    """(name, qualifier) of a Lambda function ARN.

    >>> function_name(parse("arn:aws:lambda:eu-west-1:2:function:f:live"))
    ('f', 'live')
    """
    rest = arn.resource.removeprefix("function:")
    name, _, qualifier = rest.partition(":")
    return name, qualifier or None


def unqualified_function(arn: Arn) -> str:
    """The function's ARN without a version or alias.

    >>> unqualified_function(parse("arn:aws:lambda:eu-west-1:2:function:f:live"))
    'arn:aws:lambda:eu-west-1:2:function:f'
    """
    return str(Arn(arn.partition, "lambda", arn.region, arn.account,
                   f"function:{function_name(arn)[0]}"))


def is_function(arn: Arn) -> bool:
    return arn.service == "lambda" and arn.resource.startswith("function:")


def integration_function(uri: str) -> str | None:
    """The Lambda function ARN of an API Gateway ``aws_proxy``/``aws`` integration URI
    (``arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function ARN>/
    invocations``, API Gateway Developer Guide, "Set up Lambda proxy integrations"), or
    None for any other URI.

    >>> integration_function("arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/"
    ...     "functions/arn:aws:lambda:eu-west-1:555555555555:function:f/invocations")
    'arn:aws:lambda:eu-west-1:555555555555:function:f'
    >>> integration_function("https://example.com/") is None
    True
    """
    found = _INTEGRATION_FUNCTION.fullmatch(uri or "")
    return found[1] if found else None


def archive_parts(arn: Arn) -> tuple[str, str]:
    """(name, uuid) of the archive ARN moto puts in its archive rule's input template
    (``...:archive/<name>:<uuid>``); raises ValueError for anything else.

    >>> archive_parts(parse("arn:aws:events:eu-west-1:1:archive/keep:1234"))
    ('keep', '1234')
    """
    name, _, archive_uuid = arn.resource.removeprefix("archive/").partition(":")
    if arn.service != "events" or not arn.resource.startswith("archive/") or not archive_uuid:
        raise ValueError(f"{arn} is not an archive ARN with its uuid")
    return name, archive_uuid


# --- building ------------------------------------------------------------------------


def account_root(account: str) -> str:
    """The principal standing for a whole account.

    >>> account_root("222222222222")
    'arn:aws:iam::222222222222:root'
    """
    return f"arn:{PARTITION}:iam::{account}:root"


def iam_user(account: str, user: str) -> str:
    return f"arn:{PARTITION}:iam::{account}:user/{user}"


def event_bus(region: str, account: str, name: str) -> str:
    return f"arn:{PARTITION}:events:{region}:{account}:event-bus/{name}"


def log_group(region: str, account: str, name: str) -> str:
    """A log group ARN as EventBridge targets take it (no trailing ``:*``)."""
    return f"arn:{PARTITION}:logs:{region}:{account}:log-group:{name}"


def log_stream(region: str, account: str, group: str, stream: str) -> str:
    """The ARN of one log stream: the resource of ``logs:PutLogEvents``.

    >>> log_stream("eu-west-1", "1", "/g", "s")
    'arn:aws:logs:eu-west-1:1:log-group:/g:log-stream:s'
    """
    return f"{log_group(region, account, group)}:log-stream:{stream}"


def execute_api(region: str, account: str, api_id: str, stage: str, method: str,
                resource_path: str) -> str:
    """The ARN API Gateway invokes a method as: the ``aws:SourceArn`` a Lambda permission
    for ``apigateway.amazonaws.com`` is checked against
    (``arn:aws:execute-api:<region>:<account>:<api-id>/<stage>/<METHOD>/<resource-path>``,
    API Gateway Developer Guide, "Control access for invoking an API"). The resource
    path is the resource's template without its leading slash; ANY is ``*``.

    >>> execute_api("eu-west-1", "5", "abc123", "api", "GET", "/orders/{orderId}")
    'arn:aws:execute-api:eu-west-1:5:abc123/api/GET/orders/{orderId}'
    """
    verb = "*" if method == "ANY" else method
    return (f"arn:{PARTITION}:execute-api:{region}:{account}:{api_id}/{stage}/{verb}/"
            f"{resource_path.removeprefix('/')}")
