"""What the runtime reads of a function, and the environment a worker runs with. Pure.

:class:`DeployedFunction` is one function version as the Lambda API holds it (handler,
runtime, role, timeout, memory, variables, code key); :class:`LambdaState` is what the
runtime asks of the control plane (``moto_state.MotoState`` serves it).

The environment follows the Lambda Developer Guide, "Defined runtime environment
variables": the reserved variables win over the function's own (Lambda refuses to set
them), and the credentials are the execution role's.

>>> f = DeployedFunction(arn="arn:aws:lambda:eu-west-1:1:function:f", name="f",
...     version="$LATEST", handler="app.handler", runtime="python3.11",
...     role="arn:aws:iam::1:role/r", timeout_s=3, memory_mb=256,
...     variables={"TABLE": "t", "AWS_REGION": "ignored"}, code_key="ab", package_type="Zip")
>>> env = function_environment(f, credentials=Credentials("AK", "SK", "TOKEN"),
...     endpoint="http://127.0.0.1:4566", task_root="/tmp/ab", log_stream="s")
>>> env["TABLE"], env["AWS_REGION"], env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], env["_HANDLER"]
('t', 'eu-west-1', '256', 'app.handler')
>>> env["AWS_SESSION_TOKEN"], env["AWS_LAMBDA_LOG_GROUP_NAME"]
('TOKEN', '/aws/lambda/f')
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from localcloud import arns
from localcloud.state import CloudState

# What a worker may run: Python runtimes only (no container images, no other languages).
PYTHON_RUNTIME_PREFIX = "python3"
# Isolates boto3 in the function from the machine's own AWS configuration.
CREDENTIAL_ISOLATION = {"AWS_CONFIG_FILE": os.devnull,
                        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                        "AWS_EC2_METADATA_DISABLED": "true"}


@dataclass(frozen=True)
class Credentials:
    """Temporary credentials of an assumed role."""

    access_key_id: str
    secret_access_key: str
    session_token: str


@dataclass(frozen=True)
class DeployedFunction:
    """One function version as the Lambda API holds it."""

    arn: str
    name: str
    version: str
    handler: str
    runtime: str
    role: str
    timeout_s: float
    memory_mb: int
    variables: Mapping[str, str]
    code_key: str
    package_type: str

    @property
    def region(self) -> str:
        return arns.parse(self.arn).region

    @property
    def account(self) -> str:
        return arns.parse(self.arn).account

    @property
    def log_group(self) -> str:
        """``/aws/lambda/<name>``, where Lambda writes a function's logs."""
        return f"/aws/lambda/{self.name}"

    @property
    def revision(self) -> tuple[object, ...]:
        """What a running worker was started with: a change needs new workers."""
        return (self.arn, self.version, self.handler, self.runtime, self.role,
                self.memory_mb, tuple(sorted(self.variables.items())), self.code_key)

    def unrunnable(self) -> str | None:
        """Why the local runtime cannot run this function, or None.

        >>> DeployedFunction("a", "f", "$LATEST", "h", "nodejs20.x", "r", 3, 128, {}, "k",
        ...                  "Zip").unrunnable()
        'runtime nodejs20.x is not supported by the local Lambda runtime (Python only)'
        """
        if self.package_type != "Zip":
            return "container image functions are not supported by the local Lambda runtime"
        if not (self.runtime or "").startswith(PYTHON_RUNTIME_PREFIX):
            return (f"runtime {self.runtime} is not supported by the local Lambda runtime "
                    "(Python only)")
        if not self.code_key:
            return "the function has no deployment package"
        return None


class LambdaState(CloudState, Protocol):
    """What the runtime reads and writes of the control plane (execution roles are
    assumed through the local STS, :meth:`localcloud.sts.LocalSts.assume_role_as_service`)."""

    def deployed_function(self, arn: str) -> DeployedFunction | None:
        """The function version (or alias target) a Lambda ARN names, or None."""

    def function_zip(self, function: DeployedFunction) -> bytes:
        """The deployment package the Lambda API received for ``function``."""

    def write_function_logs(self, region: str, account: str, group: str, stream: str,
                            messages: list[str]) -> None:
        """Append log events, creating the group and stream as Lambda does."""


def log_stream_name(now: float, version: str, instance: str) -> str:
    """A Lambda log stream name: ``YYYY/MM/DD/[<version>]<instance id>``.

    >>> log_stream_name(0, "$LATEST", "0123abcd")
    '1970/01/01/[$LATEST]0123abcd'
    """
    return time.strftime("%Y/%m/%d/", time.gmtime(now)) + f"[{version}]{instance}"


def function_environment(function: DeployedFunction, *, credentials: Credentials | None,
                         endpoint: str, task_root: str, log_stream: str,
                         path: str = os.defpath) -> dict[str, str]:
    """The whole environment of a worker (nothing of this process's is inherited)."""
    major_minor = function.runtime.removeprefix("python")
    reserved = {
        "_HANDLER": function.handler,
        "AWS_REGION": function.region,
        "AWS_DEFAULT_REGION": function.region,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{major_minor}",
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": function.version,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": function.log_group,
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "AWS_ENDPOINT_URL": endpoint,
        "LAMBDA_TASK_ROOT": task_root,
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PATH": path,
        "PYTHONUNBUFFERED": "1",
        **CREDENTIAL_ISOLATION,
    }
    if credentials is not None:
        reserved.update(AWS_ACCESS_KEY_ID=credentials.access_key_id,
                        AWS_SECRET_ACCESS_KEY=credentials.secret_access_key,
                        AWS_SESSION_TOKEN=credentials.session_token)
    own = {k: v for k, v in function.variables.items()
           if k not in reserved and not k.startswith("AWS_LAMBDA_")}
    return {**own, **reserved}
