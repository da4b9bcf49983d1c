"""Typed errors. The CLI turns each into one line for a person and an exit code."""

from __future__ import annotations


class BackboneError(Exception):
    """Base of every error the CLI reports as one line."""

    exit_code = 1


class TopologyError(BackboneError):
    """The topology file is unreadable or invalid (exit code 2)."""

    exit_code = 2


class UsageError(BackboneError):
    """The command cannot run as asked (for example stage `local` without an endpoint)."""

    exit_code = 1


class AwsCallError(BackboneError):
    """An AWS API call failed; names the account, the call and the resource.

    >>> str(AwsCallError("111111111111", "events:PutRule", "global-to-x", "AccessDenied: no"))
    'account 111111111111: events:PutRule on global-to-x failed: AccessDenied: no'
    """

    def __init__(self, account: str, operation: str, resource: str, message: str) -> None:
        self.account = account
        self.operation = operation
        self.resource = resource
        self.message = message
        super().__init__(f"account {account}: {operation} on {resource} failed: {message}")


class AdoptError(BackboneError):
    """``--adopt`` names nothing the command can take over (exit code 2); nothing changed."""

    exit_code = 2


class ConflictError(BackboneError):
    """Resources the stage would create exist under its names but are not its own.

    ``lines`` holds one ``CONFLICT ...`` line per resource; nothing has been changed.

    >>> str(ConflictError("local", ["CONFLICT a", "CONFLICT b"]))
    'stage local: 2 conflict(s), nothing changed: CONFLICT a; CONFLICT b'
    """

    def __init__(self, stage: str, lines: list[str]) -> None:
        self.stage = stage
        self.lines = lines
        super().__init__(f"stage {stage}: {len(lines)} conflict(s), nothing changed: "
                         + "; ".join(lines))
