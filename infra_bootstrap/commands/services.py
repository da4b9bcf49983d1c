"""Commands: filled in by the services work."""

COMMANDS: list = []
