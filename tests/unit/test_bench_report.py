"""The benchmark harness's arithmetic and reporting (bench/), without running a benchmark:
statistics and ratios, the import-time parser, the AWS call counter, the growth verdict, the
rollback goal and the markdown table. Timings themselves are never asserted."""

from __future__ import annotations

import base64
import importlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

harness = importlib.import_module("bench.harness")
report = importlib.import_module("bench.report")
common = importlib.import_module("bench.common")
startup = importlib.import_module("bench.suite_startup")
aws_world = importlib.import_module("bench.aws_world")
suite_aws = importlib.import_module("bench.suite_aws")
suite_scale = importlib.import_module("bench.suite_scale")
suite_builds = importlib.import_module("bench.suite_builds")


def result(name: str, *samples: float, **facts: object) -> object:
    return harness.Result(name, "g", samples=list(samples), facts=dict(facts))


def test_a_result_reports_median_min_and_max_of_its_timed_runs() -> None:
    r = result("case", 3.0, 1.0, 2.0, 10.0)
    assert (r.median, r.min, r.max) == (2.5, 1.0, 10.0)
    shown = r.to_json()
    assert shown["runs"] == 4
    assert shown["median_s"] == 2.5
    assert shown["ok"] is True


def test_the_speedup_is_the_baselines_median_over_ours_and_absent_when_a_side_failed() -> None:
    slow, fast = result("sam", 10.0, 12.0, 11.0), result("ours", 2.0, 2.2, 2.1)
    assert harness.ratio(slow, fast) == 11.0 / 2.1
    broken = harness.failed("sam", "g", "could not install")
    assert harness.ratio(broken, fast) is None
    assert harness.ratio(slow, None) is None


def test_timed_runs_take_turns_after_each_cases_own_warmups_and_a_failure_stops_one_case() -> None:
    calls: list[tuple[str, int]] = []

    def runner(case: object, index: int) -> tuple[float, dict[str, object]]:
        calls.append((case.name, index))
        if case.name == "flaky" and index == 2:
            raise harness.CaseFailed("exited 1: boom")
        return float(index), {"index": index}

    def case(name: str) -> object:
        return harness.Case(name, "g", lambda _: None)

    results = harness.measure_interleaved(
        [(case("a"), 1), (case("b"), 0), (case("flaky"), 1)], repeat=3, runner=runner
    )
    assert calls == [
        ("a", 0), ("flaky", 0),
        ("a", 1), ("b", 0), ("flaky", 1),
        ("a", 2), ("b", 1), ("flaky", 2),
        ("a", 3), ("b", 2),
    ]  # fmt: skip
    a, b, flaky = results
    assert a.samples == [1.0, 2.0, 3.0]
    assert a.facts["index"] == 3
    assert b.samples == [0.0, 1.0, 2.0]
    assert not flaky.ok
    assert flaky.error == "exited 1: boom"


def test_importtime_lines_are_parsed_and_heavy_libraries_named() -> None:
    text = "\n".join(
        [
            "import time: self [us] | cumulative | imported package",
            "import time:       100 |        100 |   zipimport",
            "import time:      2000 |       2500 | encodings",
            "import time:       300 |        300 |     sqlalchemy.sql",
            "import time:      5000 |       9000 | sqlalchemy",
            "unrelated stderr line",
        ]
    )
    parsed = startup.parse_importtime(text)
    assert [i.name for i in parsed] == ["zipimport", "encodings", "sqlalchemy.sql", "sqlalchemy"]
    assert [i.depth for i in parsed] == [1, 0, 2, 0]
    profile = startup.summarise([parsed, parsed])
    assert profile.total_ms == 7.4
    assert profile.heavy == ["sqlalchemy"]
    assert [i.name for i in profile.top] == ["sqlalchemy", "encodings"]


def test_aws_requests_are_named_by_their_lambda_route_or_query_action() -> None:
    fn = "/2015-03-31/functions/orders-staging"
    assert aws_world.operation("PUT", f"{fn}/aliases/live", {}, b"{}") == "UpdateAlias"
    assert aws_world.operation("GET", f"{fn}/aliases/live", {}, b"") == "GetAlias"
    assert aws_world.operation("PUT", f"{fn}/code", {}, b"{}") == "UpdateFunctionCode"
    assert aws_world.operation("POST", f"{fn}/versions", {}, b"{}") == "PublishVersion"
    assert aws_world.operation("GET", f"{fn}/versions?Marker=50", {}, b"") == (
        "ListVersionsByFunction"
    )
    assert aws_world.operation("POST", f"{fn}/invocations", {}, b"{}") == "Invoke"
    assert aws_world.operation("GET", fn, {}, b"") == "GetFunction"
    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    assert aws_world.operation("POST", "/", {}, body) == "GetCallerIdentity"
    target = {"x-amz-target": "GraniteServiceVersion20100801.DescribeAlarms"}
    assert aws_world.operation("POST", "/", target, b"{}") == "DescribeAlarms"


def test_the_call_summary_counts_alias_writes_and_the_zip_bytes_uploaded() -> None:
    zipped = b"PK\x03\x04" + bytes(range(200))
    upload = json.dumps({"ZipFile": base64.b64encode(zipped).decode()}).encode()
    code = aws_world._code_bytes("UpdateFunctionCode", upload)
    requests = [
        aws_world.Request("GetAlias", 200, 0, 0),
        aws_world.Request("UpdateFunctionCode", 200, len(upload), code),
        aws_world.Request("UpdateAlias", 200, 40, 0),
        aws_world.Request("UpdateAlias", 412, 40, 0),
    ]
    counted = aws_world.summary(requests)
    assert code == len(zipped)
    assert counted["api_calls"] == 4
    assert counted["alias_writes"] == 2
    assert counted["code_bytes_uploaded"] == len(zipped)
    assert counted["errors"] == 1
    assert counted["by_operation"] == {"GetAlias": 1, "UpdateAlias": 2, "UpdateFunctionCode": 1}


def test_the_rollback_goal_needs_one_alias_write_and_no_upload_in_every_run() -> None:
    good = {"alias_writes": 1, "code_bytes_uploaded": 0, "by_operation": {"UpdateAlias": 1}}
    met = result("rollback", 1.0, 1.1, runs=[good, good])
    assert suite_aws.rollback_goal(met)["met"] is True
    uploads = {"alias_writes": 1, "code_bytes_uploaded": 5, "by_operation": {}}
    missed = result("rollback", 1.0, 1.1, runs=[good, uploads])
    assert suite_aws.rollback_goal(missed)["met"] is False
    assert suite_aws.rollback_goal(harness.failed("rollback", "g", "boom"))["met"] is None


def test_growth_is_called_worse_than_linear_only_when_a_later_step_costs_much_more() -> None:
    linear = suite_scale.marginal_costs(
        [(10, result("a", 1.0)), (100, result("b", 1.09)), (1000, result("c", 1.99))]
    )
    assert [s["ms_per_deployment"] for s in linear] == [1.0, 1.0]
    assert suite_scale.superlinear(linear) is False
    quadratic = suite_scale.marginal_costs(
        [(10, result("a", 1.0)), (100, result("b", 1.09)), (1000, result("c", 10.0))]
    )
    assert suite_scale.superlinear(quadratic) is True


def test_a_noisy_small_step_does_not_make_steady_growth_look_worse_than_linear() -> None:
    steps = [
        {"from": 10, "to": 100, "fastest_ms_per_deployment": -1.4},
        {"from": 100, "to": 1000, "fastest_ms_per_deployment": 0.13},
    ]
    assert suite_scale.superlinear(steps) is False


def test_repeated_builds_are_identical_only_when_every_run_gave_the_same_digest() -> None:
    same = result("ours cold", 1.0, 1.0, runs=[{"digest": "a"}, {"digest": "a"}])
    differ = result("sam cold", 1.0, 1.0, runs=[{"digest": "a"}, {"digest": "b"}])
    edited = result("x after a source-only change", 1.0, 1.0, runs=[{"digest": "a"}] * 2)
    assert suite_builds._identity(same) is True
    assert suite_builds._identity(differ) is False
    assert suite_builds._identity(edited) is None


def test_the_markdown_report_shows_times_ratios_goals_and_why_a_case_failed() -> None:
    section = common.Section("Builds")
    section.results = [result("sam", 10.0, 12.0, 11.0), result("ours", 2.0, 2.2, 2.1)]
    section.results.append(harness.failed("chalice", "g", "pip said no"))
    section.comparisons = [common.Comparison("cold", "sam", "ours", goal=4.0)]
    doc = report.document(
        settings=common.Settings(repeat=3),
        machine={"cpu": "test cpu", "cores": 2},
        versions={"sam": "1.0", "chalice": None},
        sections=[section],
        goals=[report.goal("cold ≥ 4×", measured="5.24×", met=True)],
        elapsed_s=12.0,
    )
    text = report.render(json.loads(json.dumps(doc)))
    assert "| ours | 2.10 s | 2.00 s | 2.20 s | 3 |" in text
    assert "| cold | sam | ours | 5.24× | ≥ 4×: yes |" in text
    assert "**chalice** failed: pip said no" in text
    assert "| chalice | not available |" in text
    assert "| cold ≥ 4× | 5.24× | yes |" in text


def test_the_sample_is_rewritten_for_the_running_interpreter(tmp_path: Path) -> None:
    copied = common.copy_sample(tmp_path / "sample")
    assert f"runtime: {common.RUNTIME}" in (copied / "promote.yaml").read_text()
    assert f"Runtime: {common.RUNTIME}" in (copied / "template.yaml").read_text()
    common.set_revision(copied / "src" / "app.py", "edited")
    assert 'REVISION = "edited"' in (copied / "src" / "app.py").read_text()
