"""The Lambda runtime's parts, each on its own: packages, environment, pool, logs, the
worker protocol's error bodies, the Invoke API's naming rules, event age."""

from __future__ import annotations

import io
import stat
import threading
import zipfile
from pathlib import Path

import pytest

from localcloud.errors import AwsApiError
from localcloud.lambda_async import AsyncInvokeConfig, Invocation
from localcloud.lambda_invoke import function_arn_of, payload_text
from localcloud.runtime.bootstrap import Capture, handler_parts
from localcloud.runtime.logs import invocation_log, tail
from localcloud.runtime.packages import BadPackage, PackageStore, code_key, extract
from localcloud.runtime.pool import Pool, PoolExhausted
from localcloud.runtime.process import exit_error, timeout_error
from localcloud.runtime.spec import Credentials, DeployedFunction, function_environment

FUNCTION = DeployedFunction(
    arn="arn:aws:lambda:eu-west-1:222222222222:function:f", name="f", version="$LATEST",
    handler="app.handler", runtime="python3.11", role="arn:aws:iam::222222222222:role/r",
    timeout_s=3, memory_mb=512, variables={"TABLE": "t", "AWS_LAMBDA_FUNCTION_NAME": "x",
                                           "AWS_ACCESS_KEY_ID": "mine"},
    code_key="ab", package_type="Zip")


def _zip(members: dict[str, str], *, executable: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in members.items():
            info = zipfile.ZipInfo(name)
            if name == executable:
                info.external_attr = (stat.S_IFREG | 0o755) << 16
            archive.writestr(info, text)
    return buffer.getvalue()


# -- packages -------------------------------------------------------------------------------

def test_a_package_is_extracted_once_per_code_key(tmp_path: Path) -> None:
    store = PackageStore(tmp_path)
    code = _zip({"app.py": "x = 1\n", "chalicelib/__init__.py": ""})
    reads = []

    def read() -> bytes:
        reads.append(1)
        return code

    folders = []
    threads = [threading.Thread(target=lambda: folders.append(store.extracted(code_key(code),
                                                                              read)))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(reads) == 1 and len(set(folders)) == 1
    assert (folders[0] / "chalicelib" / "__init__.py").exists()
    assert folders[0].name == code_key(code)


def test_a_package_escaping_its_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BadPackage, match=r"unsafe path: \.\./evil\.py"):
        extract(_zip({"../evil.py": "boom"}), tmp_path / "in")
    assert not (tmp_path / "evil.py").exists()


def test_a_package_that_is_no_zip_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    store = PackageStore(tmp_path)
    with pytest.raises(BadPackage, match="not a zip file"):
        store.extracted(code_key(b"plain"), lambda: b"plain")
    assert list(tmp_path.iterdir()) == []


def test_executable_members_stay_executable(tmp_path: Path) -> None:
    extract(_zip({"bin/tool": "#!/bin/sh\n", "data.txt": ""}, executable="bin/tool"), tmp_path)
    assert (tmp_path / "bin" / "tool").stat().st_mode & stat.S_IXUSR
    assert not (tmp_path / "data.txt").stat().st_mode & stat.S_IXUSR


# -- environment ----------------------------------------------------------------------------

def test_reserved_variables_win_over_the_functions_own() -> None:
    env = function_environment(FUNCTION, credentials=Credentials("AK", "SK", "ST"),
                               endpoint="http://127.0.0.1:1", task_root="/pkg",
                               log_stream="2024/01/01/[$LATEST]abc")

    assert env["TABLE"] == "t"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "f"
    assert env["AWS_ACCESS_KEY_ID"] == "AK"          # the role's, not a variable's
    assert env["AWS_SECRET_ACCESS_KEY"] == "SK" and env["AWS_SESSION_TOKEN"] == "ST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == "2024/01/01/[$LATEST]abc"
    assert env["AWS_CONFIG_FILE"] == env["AWS_SHARED_CREDENTIALS_FILE"]
    assert env["LAMBDA_TASK_ROOT"] == "/pkg"


def test_only_python_zip_functions_are_runnable() -> None:
    from dataclasses import replace

    assert FUNCTION.unrunnable() is None
    assert "container image" in (replace(FUNCTION, package_type="Image").unrunnable() or "")
    assert "Python only" in (replace(FUNCTION, runtime="java21").unrunnable() or "")


def test_a_changed_configuration_is_a_new_revision() -> None:
    from dataclasses import replace

    assert replace(FUNCTION, timeout_s=9).revision == FUNCTION.revision  # read per call
    assert replace(FUNCTION, memory_mb=128).revision != FUNCTION.revision
    assert replace(FUNCTION, code_key="cd").revision != FUNCTION.revision
    assert replace(FUNCTION, variables={}).revision != FUNCTION.revision


# -- pool -----------------------------------------------------------------------------------

def test_the_pool_starts_at_most_its_size_and_then_waits() -> None:
    started: list[int] = []
    pool: Pool[int] = Pool(lambda: started.append(len(started)) or len(started), size=2)
    first, second = pool.acquire(1), pool.acquire(1)

    with pytest.raises(PoolExhausted, match="all 2 workers stayed busy"):
        pool.acquire(0.05)
    threading.Timer(0.05, lambda: pool.release(first, healthy=True)).start()
    assert pool.acquire(5) == first
    assert started == [0, 1] and second == 2


def test_an_unhealthy_worker_is_stopped_and_replaced() -> None:
    stopped: list[str] = []
    names = iter(["a", "b"])
    pool: Pool[str] = Pool(lambda: next(names), size=1, stop=stopped.append)
    worker = pool.acquire(1)

    pool.release(worker, healthy=False)

    assert stopped == ["a"] and pool.acquire(1) == "b"


def test_a_worker_that_fails_to_start_frees_its_place() -> None:
    attempts: list[int] = []

    def start() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("no interpreter")
        return "w"

    pool: Pool[str] = Pool(start, size=1)
    with pytest.raises(RuntimeError):
        pool.acquire(1)
    assert pool.acquire(1) == "w" and pool.running == 1


def test_a_closed_pool_stops_its_idle_workers() -> None:
    stopped: list[str] = []
    pool: Pool[str] = Pool(lambda: "w", size=1, stop=stopped.append)
    pool.release(pool.acquire(1), healthy=True)

    pool.close()

    assert stopped == ["w"]
    with pytest.raises(PoolExhausted):
        pool.acquire(1)


# -- logs and error bodies ------------------------------------------------------------------

def test_a_timed_out_invocation_logs_lambdas_line_before_end() -> None:
    lines = invocation_log("r", "$LATEST", ["partial output"], duration_ms=1000.0,
                           memory_mb=128, max_memory_mb=None, init_ms=None,
                           timed_out_after=1.0)

    assert lines[2].endswith(" r Task timed out after 1.00 seconds")
    assert lines[3] == "END RequestId: r"
    assert lines[4] == "REPORT RequestId: r\tDuration: 1000.00 ms\tBilled Duration: 1000 ms" \
                       "\tMemory Size: 128 MB"


def test_the_log_tail_is_the_last_4_kb() -> None:
    text = tail([f"line {n}" for n in range(2000)])
    assert len(text.encode()) == 4096 and text.endswith("line 1999\n")


def test_error_bodies_of_a_dead_or_late_worker() -> None:
    assert exit_error("r", -9) == {"errorType": "Runtime.ExitError", "errorMessage":
                                   "RequestId: r Error: Runtime exited with error: "
                                   "signal: killed"}
    assert exit_error("r", -11)["errorMessage"].endswith("signal: segv")
    assert timeout_error("r", 3)["errorType"] == "Sandbox.Timedout"


# -- inside the worker ----------------------------------------------------------------------

def test_handler_settings_as_lambda_reads_them() -> None:
    assert handler_parts("app.on_order_created") == ("app", "on_order_created")
    assert handler_parts("a.b.c") == ("a.b", "c")
    with pytest.raises(ValueError, match="Bad handler 'app'"):
        handler_parts("app")


def test_captured_output_is_split_in_lines_per_invocation() -> None:
    capture = Capture()
    capture.write("one\ntw")
    capture.write("o\nthree")

    assert capture.take() == ["one", "two", "three"]
    assert capture.take() == []


# -- the Invoke API's naming ----------------------------------------------------------------

@pytest.mark.parametrize(("name", "qualifier", "arn"), [
    ("f", None, "arn:aws:lambda:eu-west-1:222222222222:function:f"),
    ("f", "live", "arn:aws:lambda:eu-west-1:222222222222:function:f:live"),
    ("arn:aws:lambda:eu-west-1:3:function:g", None, "arn:aws:lambda:eu-west-1:3:function:g"),
    ("3:function:g", None, "arn:aws:lambda:eu-west-1:3:function:g"),
])
def test_a_function_is_named_as_the_invoke_api_allows(name: str, qualifier: str | None,
                                                      arn: str) -> None:
    assert function_arn_of(name, region="eu-west-1", account="222222222222",
                           qualifier=qualifier) == arn


def test_a_name_that_is_no_function_is_a_validation_error() -> None:
    with pytest.raises(AwsApiError) as raised:
        function_arn_of("arn:aws:sqs:eu-west-1:1:q", region="r", account="1", qualifier=None)
    assert raised.value.code == "ValidationException"


def test_a_payload_must_be_json() -> None:
    assert payload_text(b"  ") == "{}"
    with pytest.raises(AwsApiError) as raised:
        payload_text(b"\xff")
    assert raised.value.code == "InvalidRequestContentException"


# -- event age ------------------------------------------------------------------------------

def test_event_age_is_real_time_plus_lambdas_retry_waits() -> None:
    """A worker stalled for a minute ages the event by a minute, however much the retry
    clock is scaled (no false EventAgeExceeded)."""
    inv = Invocation(None, "t", "f", "{}", {}, AsyncInvokeConfig(max_event_age_s=3600),
                     timeout_s=3, accepted=0.0)
    inv.waited(aws_s=60, local_s=0.01)
    inv.waited(aws_s=120, local_s=0.02)

    assert inv.age_s(now=60.03) == pytest.approx(60 + 180)
    assert inv.age_s(now=60.03) + 120 < inv.config.max_event_age_s
