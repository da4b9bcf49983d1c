"""Deployment packages on disk: each zip extracted once, keyed by its CodeSha256.

The Lambda API keeps the zip ``CreateFunction`` / ``UpdateFunctionCode`` received; a
worker runs from its extracted copy. Two functions deploying the same zip share one copy;
a new upload is a new key, so a running worker never sees its files change.

>>> import io, tempfile, zipfile
>>> buffer = io.BytesIO()
>>> with zipfile.ZipFile(buffer, "w") as z:
...     z.writestr("app.py", "def handler(event, context):\\n    return event\\n")
>>> store = PackageStore(tempfile.mkdtemp())
>>> root = store.extracted(code_key(buffer.getvalue()), lambda: buffer.getvalue())
>>> sorted(p.name for p in root.iterdir())
['app.py']
>>> store.extracted(code_key(buffer.getvalue()), lambda: b"never read") == root
True
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path

from localcloud.errors import LocalCloudError


class BadPackage(LocalCloudError):
    """The deployment package cannot be extracted (not a zip, or unsafe paths)."""


def code_key(code: bytes) -> str:
    """The hex SHA-256 of a zip: moto's ``code_digest``, the hex of Lambda's CodeSha256.

    >>> code_key(b"")[:12]
    'e3b0c44298fc'
    """
    return hashlib.sha256(code).hexdigest()


def extract(code: bytes, into: Path) -> None:
    """Extract a zip, refusing members that would land outside ``into``; keep the
    executable bit of members that carry it (as Lambda's unzip does)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(code))
    except zipfile.BadZipFile as exc:
        raise BadPackage(f"the deployment package is not a zip file: {exc}") from None
    root = into.resolve()
    with archive:
        for member in archive.infolist():
            target = (root / member.filename).resolve()
            if target != root and root not in target.parents:
                raise BadPackage(f"the deployment package has an unsafe path: {member.filename}")
        archive.extractall(root)
        for member in archive.infolist():
            mode = member.external_attr >> 16
            if mode & stat.S_IXUSR and not member.is_dir():
                path = root / member.filename
                path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


class PackageStore:
    """Extracted packages under ``root``, one folder per code key."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def extracted(self, key: str, code: Callable[[], bytes]) -> Path:
        """The folder of package ``key``; ``code()`` gives its zip the first time."""
        if not key or not all(c in "0123456789abcdef" for c in key):
            raise BadPackage(f"not a code key: {key!r}")
        folder = self.root / key
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if folder.is_dir():
                return folder
            partial = self.root / f".{key}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir()
            try:
                extract(code(), partial)
            except BaseException:
                shutil.rmtree(partial, ignore_errors=True)
                raise
            partial.rename(folder)
            return folder

    def clear(self) -> None:
        """Remove every extracted package."""
        shutil.rmtree(self.root, ignore_errors=True)
