"""Commands: filled in by the local work."""

COMMANDS: list = []
