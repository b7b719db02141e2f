"""A release's configuration (DESIGN §11.3) as a value: what an environment's overrides do to
it, what its digest covers, what "nothing to apply" means, and how a change reads to people."""

from __future__ import annotations

from lambda_promote.function_config import (
    FunctionConfiguration,
    differences,
    effective,
    looks_secret,
    shown,
)

RELEASE = FunctionConfiguration(
    memory_mb=512,
    timeout_seconds=10,
    layers=("arn:aws:lambda:us-east-1:111111111111:layer:common:3",),
    variables={"TABLE": "orders", "MODE": "fast"},
)


def test_an_environment_override_wins_and_variables_merge_with_the_environment_winning():
    production = FunctionConfiguration(memory_mb=2048, variables={"MODE": "safe", "STAGE": "p"})

    merged = effective(RELEASE, production)

    assert merged.memory_mb == 2048
    assert merged.timeout_seconds == 10
    assert merged.layers == RELEASE.layers
    assert merged.variables == {"TABLE": "orders", "MODE": "safe", "STAGE": "p"}


def test_an_environment_setting_layers_replaces_the_release_layers():
    none = effective(RELEASE, FunctionConfiguration(layers=()))
    assert none.layers == ()


def test_keys_set_nowhere_stay_unmanaged_and_out_of_the_digest():
    only_memory = FunctionConfiguration(memory_mb=512)

    assert only_memory.managed == ("memory_mb",)
    assert only_memory.to_json() == {"memory_mb": 512}
    assert effective(FunctionConfiguration(), FunctionConfiguration()).to_json() == {}


def test_the_digest_ignores_variable_order_and_changes_with_any_value():
    reordered = FunctionConfiguration(
        memory_mb=512,
        timeout_seconds=10,
        layers=RELEASE.layers,
        variables={"MODE": "fast", "TABLE": "orders"},
    )
    changed = FunctionConfiguration(**{**RELEASE.__dict__, "memory_mb": 1024})

    assert reordered.digest == RELEASE.digest
    assert changed.digest != RELEASE.digest
    assert len(RELEASE.digest) == 64


def test_a_configuration_round_trips_through_its_json():
    assert FunctionConfiguration.from_json(RELEASE.to_json()) == RELEASE
    assert FunctionConfiguration.from_json(None) == FunctionConfiguration()


def test_a_function_that_already_has_the_managed_keys_needs_nothing_applied():
    live = FunctionConfiguration(
        memory_mb=512,
        timeout_seconds=10,
        ephemeral_storage_mb=512,
        layers=RELEASE.layers,
        variables={"TABLE": "orders", "MODE": "fast"},
    )
    assert FunctionConfiguration(memory_mb=512).satisfied_by(live)
    assert RELEASE.satisfied_by(live)
    assert not FunctionConfiguration(memory_mb=1024).satisfied_by(live)
    # Variables are the whole set: one more on the function is a difference.
    assert not FunctionConfiguration(variables={"TABLE": "orders"}).satisfied_by(live)


def test_secret_looking_names_are_recognised():
    for name in ("DB_PASSWORD", "client_secret", "GITHUB_TOKEN", "API_KEY", "PasswordHint"):
        assert looks_secret(name), name
    for name in ("TABLE_NAME", "KEYSPACE", "MONKEY"):
        assert not looks_secret(name), name


def test_differences_read_as_lines_and_never_show_a_secret_looking_value():
    before = {"memory_mb": 128, "variables": {"A": "1", "GONE": "x", "DB_PASSWORD": "old"}}
    after = {"memory_mb": 1024, "variables": {"A": "2", "NEW": "y", "DB_PASSWORD": "hunter2"}}

    lines = differences(before, after)

    assert lines == [
        "memory_mb: 128 → 1024",
        'variables.A: "1" → "2"',
        "variables.DB_PASSWORD: changed (value not shown)",
        "variables.GONE: removed",
        'variables.NEW: added ("y")',
    ]
    assert not any("hunter2" in line or "old" in line for line in lines)
    assert shown(after)["variables"]["DB_PASSWORD"] == "***"


def test_a_key_that_becomes_managed_is_a_difference():
    assert differences({}, {"timeout_seconds": 30}) == ["timeout_seconds: not managed → 30"]
    assert differences({}, {"variables": {"A": "1"}}) == ["variables: not managed → 1 set"]
