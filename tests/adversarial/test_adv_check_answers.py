"""Attack: the function under test answers its health check with something that is not plain
JSON — NaN, Infinity, an integer too long to write, text that is not valid Unicode, nesting
deeper than anything can follow, or a very large answer.

Before, a NaN answer made `deploy` exit 1 ("nothing changed") after traffic had moved, with
the ledger saying rolled_back and the check result lost. Now every such answer is a failed
check like any other: exit 3, the environment back on the previous version and verified, the
check recorded with a detail naming what was wrong. A large but valid answer still passes; only
its recorded copy is cut. End to end through the CLI on the local target; the aws target's
own decoding is covered at the bottom.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aws_fixtures import moto_world, release
from cli_project import Project, make_project
from fake_target import QuietProgress
from lambda_promote.config.schema import Check, Environment
from lambda_promote.deploy import Deployer
from lambda_promote.journal import Journal
from lambda_promote.ledger.sql import open_ledger
from lambda_promote.model import DeploymentState, FunctionRef
from lambda_promote.targets import aws_target
from lambda_promote.targets.aws_target import AwsTarget

HANDLER = """\
def deep(levels, leaf):
    value = leaf
    for _ in range(levels):
        value = [value]
    return value


def handler(event, context):
    return {answer}
"""

HOSTILE_ANSWERS = {
    "nan": ('{"ok": True, "value": float("nan")}', "NaN"),
    "nan_alone": ('float("nan")', "NaN"),
    "infinity": ('{"ok": True, "value": [float("inf"), float("-inf")]}', "Infinity"),
    "integer_too_long": ("10 ** 5000", "function error"),
    "integer_too_long_as_text": ("b'{\"ok\": true, \"n\": ' + b'9' * 5000 + b'}'", "expected"),
    "not_utf8": ("b'\\xff\\xfe{\"ok\": true}'", "expected"),
    "lone_surrogate": ('b\'{"ok": true, "name": "\\\\udcff"}\'', "Unicode"),
    "nested_beyond_parsing": ("b'[' * 100000 + b']' * 100000", "expected"),
    "nested_deep_but_parseable": ("{'ok': True, 'tree': deep(200, 1)}", "levels"),
    "nested_beyond_marshalling": ("{'ok': True, 'tree': deep(5000, 1)}", "function error"),
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """One project for the module: each hostile release is rolled back to the same good one,
    so every test starts from that state."""
    project = make_project(tmp_path_factory.mktemp("answers") / "tiny")
    project.run("deploy", "staging", check=0)
    return project


def answer_with(project: Project, answer: str) -> None:
    (project.root / "src" / "app.py").write_text(HANDLER.format(answer=answer))


@pytest.mark.parametrize("case", sorted(HOSTILE_ANSWERS))
def test_a_hostile_health_check_answer_rolls_back_with_exit_3_and_is_recorded(
    project: Project, case: str
) -> None:
    answer, named = HOSTILE_ANSWERS[case]
    answer_with(project, answer)
    code, body = project.run("deploy", "staging")
    assert code == 3, body
    assert body["error"]["code"] == "rolled_back"
    dep = body["deployment"]
    assert dep["state"] == "rolled_back"
    assert dep["rollback"]["verified"] is True
    assert dep["rollback"]["to_version"] == "1"  # the good release, live again
    assert named in dep["checks"][0]["detail"]
    _, shown = project.run("show", dep["id"], check=0)
    recorded = shown["deployment"]
    assert [(c["name"], c["ok"]) for c in recorded["checks"]] == [("ping", False)]
    assert named in recorded["checks"][0]["detail"]
    assert [c["ok"] for c in recorded["rollback"]["checks"]] == [True]  # the verification


def test_a_large_but_valid_answer_passes_and_its_record_is_cut(project: Project) -> None:
    answer_with(project, '{"ok": True, "padding": "x" * 5_000_000}')
    _, body = project.run("deploy", "staging", check=0)
    assert body["deployment"]["state"] == "succeeded"
    sizes = project.sql("select length(response) from check_results where deployment_id = ?",
                        body["deployment"]["id"])  # fmt: skip
    assert sizes
    assert all(0 < size < 100_000 for (size,) in sizes)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"[" * 100_000 + b"]" * 100_000, str),
        (b'{"ok": true, "n": ' + b"9" * 5000 + b"}", str),
        (b'\xff\xfe{"ok": true}', str),
        (b'{"ok": true}', dict),
    ],
)
def test_the_aws_targets_answer_decoding_never_raises(payload: bytes, expected: type) -> None:
    assert isinstance(aws_target._decoded(payload), expected)


@pytest.mark.parametrize(
    "answer",
    ['{"ok": true, "value": NaN}', '{"ok": true, "name": "\\udcff"}', "[" * 5000 + "]" * 5000],
    ids=["nan", "lone_surrogate", "nested_beyond_parsing"],
)
def test_a_hostile_answer_on_aws_rolls_back_and_is_recorded_in_a_real_ledger(
    answer: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The aws target decodes Lambda's answer itself: through moto, into a SQLite ledger."""
    fn = FunctionRef(env="staging", function_name="orders-staging", alias="live")
    env = Environment(
        function_name=fn.function_name,
        checks=[Check(name="ping", payload={"ok": True}, expect={"body": {"ok": True}})],
    )
    with moto_world("in-process", monkeypatch, tmp_path) as world:
        world.create_function(fn.function_name)
        target = AwsTarget(session_factory=world.sessions)
        ledger = open_ledger("sqlite:///ledger.db", root=tmp_path)
        try:
            deployer = Deployer(
                ledger=ledger,
                target=target,
                journal=Journal(ledger),
                actor="alice",
                holder="alice@ci:1",
                progress=QuietProgress(),
            )
            first = release(tmp_path, "good")
            assert deployer.deploy(fn, env, first.artifact, first.path).state.name == "SUCCEEDED"
            world.queue_invoke_results(answer, '{"ok": true}')  # the hostile one, then healthy
            second = release(tmp_path, "hostile")
            dep = deployer.deploy(fn, env, second.artifact, second.path)
            assert dep.state is DeploymentState.ROLLED_BACK
            recorded = ledger.get_deployment(dep.id)
            assert recorded is not None
            assert [(c.phase, c.ok) for c in recorded.checks] == [
                ("verify", False),
                ("rollback_verify", True),
            ]
            assert target.alias_state(fn).version == "1"
        finally:
            ledger.close()  # type: ignore[attr-defined]
