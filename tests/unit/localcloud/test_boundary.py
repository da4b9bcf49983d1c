"""localcloud stands on its own: importing it, every module of it, loads nothing of the
project's other packages (the bootstrap, the runtime library, the services)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

# A fresh interpreter: what this test process already imported cannot hide an import.
IMPORT_EVERY_MODULE = """
import importlib, json, pkgutil, sys
import localcloud
names = sorted(m.name for m in pkgutil.walk_packages(localcloud.__path__, "localcloud.")
               if m.name != "localcloud.__main__")
for name in names:
    importlib.import_module(name)
print(json.dumps({"imported": names, "loaded": sorted(sys.modules)}))
"""


def other_packages() -> set[str]:
    """The repository's other top-level packages: the bootstrap, the library, and every
    service (a folder with a Chalice ``app.py``)."""
    services = {path.parent.name for path in REPO.glob("*/app.py")}
    assert services, "no service folder found"
    return {"infra_bootstrap", "backbone"} | services


def test_importing_every_localcloud_module_loads_no_other_package_of_ours() -> None:
    finished = subprocess.run([sys.executable, "-c", IMPORT_EVERY_MODULE], cwd=REPO,
                              capture_output=True, text=True, timeout=120, check=True)
    report = json.loads(finished.stdout)

    modules = {".".join(("localcloud", *path.relative_to(REPO / "localcloud")
                         .with_suffix("").parts)).removesuffix(".__init__")
               for path in (REPO / "localcloud").rglob("*.py")}
    assert set(report["imported"]) == modules - {"localcloud", "localcloud.__main__"}
    forbidden = other_packages()
    leaked = [name for name in report["loaded"]
              if name.split(".")[0] in forbidden or name.startswith("backbone_service_app_")]
    assert leaked == []
