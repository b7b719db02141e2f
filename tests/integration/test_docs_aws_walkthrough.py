"""docs/aws.md's walkthrough, run exactly as written (only the port changes): two pre-created
functions on moto's server become staging and production, a good release is promoted, a bad
one is rolled back automatically, and a rollback from an empty ledger restores version 1."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).parents[2] / "docs" / "aws.md"


def walkthrough() -> str:
    text = DOC.read_text()
    section = text[text.index("## Walkthrough") :]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.skipif(shutil.which("curl") is None, reason="the walkthrough uses curl")
def test_the_aws_walkthrough_works_as_written(tmp_path: Path) -> None:
    port = free_port()
    script = walkthrough().replace("5000", str(port))
    script = "\n".join(line for line in script.splitlines() if not line.startswith("pip install"))
    bin_dir = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GITHUB_"))}
    env.update(
        {
            "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
            "HOME": str(tmp_path),  # no ~/.aws
            "AWS_EC2_METADATA_DISABLED": "true",
            "NO_COLOR": "1",
        }
    )
    script = "set -u\n" + script
    shell = subprocess.Popen(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        stdout, stderr = shell.communicate(timeout=600)
    finally:  # the script's moto_server must not outlive the test, whatever happened
        with contextlib.suppress(ProcessLookupError):
            os.killpg(shell.pid, signal.SIGTERM)
    proc = subprocess.CompletedProcess(shell.args, shell.returncode, stdout, stderr)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "exit code 3" in out
    assert "rolled back to version 2, verified" in out
    assert "using the good versions recorded on orders-api-production" in out
    status = [line for line in proc.stdout.splitlines() if line.startswith("production")]
    assert "version 1 " in status[-1], out
