"""Operating the backbone: read the bus logs, follow a causal chain, handle dead letters.

Pure modules (``records``, ``timespec``, ``trace``, ``deadletters``) hold the logic; the
I/O modules (``logs``, ``queues``, ``redrive``, ``replay``) call AWS through the
topology's sessions, exactly as on AWS. The CLI is in ``infra_bootstrap/commands/``.
"""
