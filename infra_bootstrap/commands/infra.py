"""Commands: filled in by the infra work."""

COMMANDS: list = []
