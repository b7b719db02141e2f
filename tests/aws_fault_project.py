"""A project on the aws target for the fault tests: one function ``orders-staging`` in moto,
reached through ``aws_fault_proxy`` by the real CLI in a child process (``cli_project``)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from aws_fault_proxy import FaultProxy, fault_proxy
from aws_fixtures import MotoWorld, moto_world
from cli_project import Project

FUNCTION = "orders-staging"
CONFIG = """\
project: orders-api
target: aws
state: sqlite:///.lambda-promote/state.db
artifacts: .lambda-promote/artifacts
function:
  source: src
  handler: app.handler
  runtime: python3.12
environments:
  staging:
    function_name: {function}
    region: us-east-1
    checks:
      - name: ping
        payload: {{ok: true}}
        expect: {{body: {{ok: true}}}}
"""


@dataclass
class AwsProject:
    """The CLI, moto behind the proxy, and the view of someone looking at the console."""

    project: Project
    world: MotoWorld
    proxy: FaultProxy

    @property
    def env(self) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL": self.proxy.url}

    def run(self, *args: str, check: int | None = None) -> tuple[int, dict[str, Any]]:
        return self.project.run(*args, env=self.env, check=check)

    def killed(self, *args: str) -> None:
        """Run a command that a kill fault of the proxy ends with SIGKILL."""
        child = self.project.popen(*args, env=self.env)
        self.proxy.aim_at(child.pid)
        _, err = child.communicate(timeout=120)
        assert child.returncode == -9, (child.returncode, self.proxy.killed, err)

    def alias_version(self) -> str | None:
        client = self.world.session().client("lambda", endpoint_url=self.world.api_url)
        try:
            return str(client.get_alias(FunctionName=FUNCTION, Name="live")["FunctionVersion"])
        except client.exceptions.ResourceNotFoundException:
            return None

    def latest_code(self) -> str:
        client = self.world.session().client("lambda", endpoint_url=self.world.api_url)
        return str(client.get_function_configuration(FunctionName=FUNCTION)["CodeSha256"])

    def status(self) -> dict[str, Any]:
        return self.run("status", "staging", check=0)[1]["environments"]["staging"]


@contextmanager
def aws_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, config: str = CONFIG
) -> Iterator[AwsProject]:
    """A fresh moto server world with the function created, the proxy, and the project."""
    with moto_world("server", monkeypatch, tmp_path) as world:
        world.create_function(FUNCTION)
        with fault_proxy(world.api_url) as proxy:
            root = tmp_path / "orders-api"
            (root / "src").mkdir(parents=True)
            (root / "promote.yaml").write_text(textwrap.dedent(config.format(function=FUNCTION)))
            project = Project(root)
            project.release("r1")
            yield AwsProject(project, world, proxy)
