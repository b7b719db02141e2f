"""A stand-in for ``lambda-promote deploy`` in CI, for the emulator escape tests.

Run as ``python emulator_deployer.py ROOT SOURCE_FILE EVENT_JSON [--token=SECRET]`` in a fresh
process whose environment holds secrets, the way a deploy step's process does (/proc shows a
process's environment as it was at exec time, so the test's own monkeypatched variables would
prove nothing). It publishes SOURCE_FILE as ``app.py``, invokes it once with EVENT_JSON (plus
the pids of this process and its parent, so the handler knows whom to attack) and prints one
JSON line: the answer, the logs, and whether this process's own /proc entry holds the secret.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import zipfile
from pathlib import Path

from lambda_promote.model import Artifact, FunctionRef
from lambda_promote.targets.local import LocalTarget


def main(argv: list[str]) -> int:
    root, source, event = Path(argv[1]), Path(argv[2]), json.loads(argv[3])
    timeout = int(event.pop("timeout_seconds", 3))
    fn = FunctionRef("staging", "adversary", "live", timeout_seconds=timeout)
    package = root.parent / "code.zip"
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("app.py", source.read_text(encoding="utf-8"))
    digest = hashlib.sha256(package.read_bytes()).hexdigest()
    artifact = Artifact(digest=digest, size=package.stat().st_size, path=str(package))
    warnings: list[str] = []
    target = LocalTarget(root, warn=warnings.append, python_for=lambda runtime: sys.executable)
    target.publish(fn, artifact, package)
    target.point_alias(fn, "1", expected_revision=None)
    # An inheritable descriptor on a file holding the secret, as a careless ledger might be.
    secret_file = root.parent / "ledger.db"
    secret_file.write_text(os.environ.get("DEPLOY_SECRET", ""), encoding="utf-8")
    leaked_fd = os.open(secret_file, os.O_RDONLY)
    os.set_inheritable(leaked_fd, True)
    event.update(deployer_pid=os.getpid(), deployer_parent_pid=os.getppid())
    result = target.invoke(fn, event)
    own = Path("/proc/self/environ")
    answer = {
        "payload": result.payload,
        "function_error": result.function_error,
        "logs": result.logs,
        "warnings": warnings,
        "deployer_environ_has_secret": own.exists()
        and os.environ["DEPLOY_SECRET"].encode() in own.read_bytes(),
    }
    print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
