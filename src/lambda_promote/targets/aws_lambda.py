"""The Lambda and CloudWatch calls of the aws target, as small typed methods on a boto3 client.

Each method names what it does for the error message (``translated`` in aws.py, the module
that owns boto3) and answers in our terms: hex digests instead of base64 ``CodeSha256``,
``None`` for an alias that does not exist, every page of a paginated list.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lambda_promote.function_config import FunctionConfiguration
from lambda_promote.targets.aws import translated

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch.client import CloudWatchClient
    from mypy_boto3_lambda.client import LambdaClient


# --- digests ---------------------------------------------------------------------------------


def code_sha256(digest: str) -> str:
    """Lambda's CodeSha256 (base64 of the raw sha256) for our hex digest."""
    return base64.b64encode(bytes.fromhex(digest)).decode("ascii")


def digest_of(code_sha: str) -> str:
    """Our hex digest for Lambda's CodeSha256; ``""`` when it is not a sha256 (image code)."""
    try:
        raw = base64.b64decode(code_sha, validate=True)
    except (binascii.Error, ValueError):
        return ""
    return raw.hex() if len(raw) == 32 else ""


# --- Lambda ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FunctionConfig:
    """One function configuration ($LATEST or a version) in our terms."""

    arn: str  # unqualified: tags live on the function, not on a version
    version: str
    digest: str
    revision_id: str | None = None
    last_update_status: str | None = None
    state: str | None = None
    description: str = ""
    last_modified: datetime | None = None
    runtime: str = ""
    architectures: tuple[str, ...] = ()
    # Every key of DESIGN §11.3 as this version (or $LATEST) has it.
    settings: FunctionConfiguration = field(default_factory=FunctionConfiguration)


@dataclass(frozen=True)
class Settled:
    """The function once a code update finished: the waiter's last answer (GetFunction)."""

    config: FunctionConfig
    tags: dict[str, str] | None  # None when the answer carried none (none set, or no ListTags)


@dataclass(frozen=True)
class AliasConfig:
    version: str
    revision_id: str | None
    # RoutingConfig.AdditionalVersionWeights: a shift in progress (DESIGN §11.5).
    weights: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str


@dataclass(frozen=True)
class Invocation:
    payload: bytes
    function_error: str | None
    log_tail: str
    executed_version: str | None


class LambdaApi:
    """The Lambda calls of one function. ``where`` names it in errors: ``name (env)``."""

    def __init__(self, client: LambdaClient, *, function_name: str, where: str) -> None:
        self.client = client
        self.function_name = function_name
        self.where = where

    def configuration(self, qualifier: str | None = None) -> FunctionConfig:
        what = f"version {qualifier} of" if qualifier else "the configuration of"
        with translated(f"reading {what}", where=self.where):
            if qualifier is None:
                found = self.client.get_function_configuration(FunctionName=self.function_name)
            else:
                found = self.client.get_function_configuration(
                    FunctionName=self.function_name, Qualifier=qualifier
                )
        return function_config(found)

    def alias(self, name: str) -> AliasConfig | None:
        """The alias, or None when it does not exist (yet)."""
        doing = f"reading the alias {name} of"
        with translated(doing, where=self.where, absent={"ResourceNotFoundException"}) as call:
            found = self.client.get_alias(FunctionName=self.function_name, Name=name)
        if call.missing:
            return None
        return _alias_config(found)

    def update_code(
        self, *, zip_bytes: bytes | None, s3: S3Location | None, revision_id: str | None
    ) -> FunctionConfig:
        params: dict[str, Any] = {"FunctionName": self.function_name}
        if s3 is not None:
            params.update(S3Bucket=s3.bucket, S3Key=s3.key)
        else:
            params["ZipFile"] = zip_bytes
        if revision_id:
            params["RevisionId"] = revision_id
        with translated("updating the code of", where=self.where):
            return function_config(self.client.update_function_code(**params))

    def update_configuration(
        self, configuration: FunctionConfiguration, *, revision_id: str | None
    ) -> FunctionConfig:
        """Apply the managed keys of ``configuration`` to $LATEST (the others untouched)."""
        params: dict[str, Any] = {"FunctionName": self.function_name}
        params.update(configuration_params(configuration))
        if revision_id:
            params["RevisionId"] = revision_id
        with translated("updating the configuration of", where=self.where):
            return function_config(self.client.update_function_configuration(**params))

    def wait_updated(self) -> Settled | None:
        """Wait until no code update is in progress; the waiter's last answer (GetFunction
        carries the settled configuration and the function's tags, which boto3's waiter does
        not return: they are kept on the way), or None when there was none to keep."""
        answers: list[Mapping[str, Any]] = []

        def keep(parsed: Mapping[str, Any], **_: Any) -> None:
            answers.append(parsed)

        event = "after-call.lambda.GetFunction"
        self.client.meta.events.register(event, keep)
        try:
            with translated("waiting for the code update of", where=self.where):
                self.client.get_waiter("function_updated_v2").wait(FunctionName=self.function_name)
        finally:
            self.client.meta.events.unregister(event, keep)
        last = answers[-1] if answers else {}
        if not isinstance(last.get("Configuration"), Mapping):
            return None
        return _settled(last)

    def function(self, qualifier: str) -> Settled:
        """A version's configuration with the function's tags, in one GetFunction."""
        with translated(f"reading version {qualifier} of", where=self.where):
            return _settled(
                self.client.get_function(FunctionName=self.function_name, Qualifier=qualifier)
            )

    def wait_version_active(self, version: str) -> None:
        with translated(f"waiting for version {version} to become active on", where=self.where):
            self.client.get_waiter("published_version_active").wait(
                FunctionName=self.function_name, Qualifier=version
            )

    def publish_version(
        self, *, digest: str, revision_id: str | None, description: str
    ) -> FunctionConfig:
        params: dict[str, Any] = {
            "FunctionName": self.function_name,
            "CodeSha256": code_sha256(digest),
            "Description": description[:256],
        }
        if revision_id:
            params["RevisionId"] = revision_id
        with translated("publishing a version of", where=self.where):
            return function_config(self.client.publish_version(**params))

    def create_alias(self, name: str, version: str) -> AliasConfig:
        with translated(f"creating the alias {name} of", where=self.where):
            made = self.client.create_alias(
                FunctionName=self.function_name, Name=name, FunctionVersion=version
            )
        return _alias_config(made)

    def update_alias(
        self,
        name: str,
        version: str,
        *,
        revision_id: str,
        weights: Mapping[str, float] | None = None,
    ) -> AliasConfig:
        """Point the alias at ``version``. Lambda keeps an alias's RoutingConfig when an update
        leaves it out, so it is always sent: ``weights`` for a step of a shift, else none."""
        doing = f"pointing the alias {name} at version {version} of"
        if weights:
            shares = ", ".join(f"{w:.1%} to version {v}" for v, w in weights.items())
            doing = f"weighting the alias {name} ({shares}, the rest to version {version}) of"
        with translated(doing, where=self.where):
            moved = self.client.update_alias(
                FunctionName=self.function_name,
                Name=name,
                FunctionVersion=version,
                RevisionId=revision_id,
                RoutingConfig={"AdditionalVersionWeights": dict(weights or {})},
            )
        return _alias_config(moved)

    def delete_alias(self, name: str) -> None:
        with translated(f"deleting the alias {name} of", where=self.where):
            self.client.delete_alias(FunctionName=self.function_name, Name=name)

    def versions(self) -> list[FunctionConfig]:
        """Every published version (all pages; $LATEST left out), in Lambda's order."""
        found: list[FunctionConfig] = []
        with translated("listing the versions of", where=self.where):
            pages = self.client.get_paginator("list_versions_by_function").paginate(
                FunctionName=self.function_name
            )
            for page in pages:
                found.extend(function_config(v) for v in page.get("Versions", []))
        return [v for v in found if v.version != "$LATEST"]

    def invoke(self, qualifier: str, payload: bytes) -> Invocation:
        with translated(f"invoking {qualifier} of", where=self.where):
            answer = self.client.invoke(
                FunctionName=self.function_name,
                Qualifier=qualifier,
                Payload=payload,
                LogType="Tail",
            )
            body = answer["Payload"].read()
        return Invocation(
            payload=body,
            function_error=answer.get("FunctionError"),
            log_tail=decode_log_tail(answer.get("LogResult", "")),
            executed_version=answer.get("ExecutedVersion"),
        )

    def tags(self, arn: str) -> dict[str, str]:
        with translated("reading the tags of", where=self.where):
            return dict(self.client.list_tags(Resource=arn).get("Tags", {}))

    def tag(self, arn: str, tags: Mapping[str, str]) -> None:
        with translated("tagging", where=self.where):
            self.client.tag_resource(Resource=arn, Tags=dict(tags))


def _alias_config(answer: Mapping[str, Any]) -> AliasConfig:
    routing = answer.get("RoutingConfig") or {}
    weights = {str(v): float(w) for v, w in (routing.get("AdditionalVersionWeights") or {}).items()}
    return AliasConfig(str(answer["FunctionVersion"]), answer.get("RevisionId"), weights)


def _settled(answer: Mapping[str, Any]) -> Settled:
    tags = answer.get("Tags")
    return Settled(
        function_config(answer["Configuration"]),
        {str(k): str(v) for k, v in tags.items()} if isinstance(tags, Mapping) else None,
    )


def function_config(data: Mapping[str, Any]) -> FunctionConfig:
    arn = str(data.get("FunctionArn", ""))
    return FunctionConfig(
        arn=":".join(arn.split(":")[:7]),
        version=str(data.get("Version", "$LATEST")),
        digest=digest_of(str(data.get("CodeSha256", ""))),
        revision_id=data.get("RevisionId"),
        last_update_status=data.get("LastUpdateStatus"),
        state=data.get("State"),
        description=str(data.get("Description", "")),
        last_modified=_lambda_time(data.get("LastModified")),
        runtime=str(data.get("Runtime", "")),
        architectures=tuple(data.get("Architectures", ())),
        settings=settings_of(data),
    )


def settings_of(data: Mapping[str, Any]) -> FunctionConfiguration:
    """A GetFunctionConfiguration answer's memory, timeout, storage, layers and variables."""
    storage = data.get("EphemeralStorage") or {}
    environment = data.get("Environment") or {}
    return FunctionConfiguration(
        memory_mb=_int(data.get("MemorySize")),
        timeout_seconds=_int(data.get("Timeout")),
        ephemeral_storage_mb=_int(storage.get("Size")) or 512,  # Lambda's default when absent
        layers=tuple(str(layer.get("Arn", "")) for layer in data.get("Layers") or ()),
        variables={str(k): str(v) for k, v in (environment.get("Variables") or {}).items()},
    )


def configuration_params(configuration: FunctionConfiguration) -> dict[str, Any]:
    """UpdateFunctionConfiguration's parameters for the managed keys only."""
    params: dict[str, Any] = {}
    if configuration.memory_mb is not None:
        params["MemorySize"] = configuration.memory_mb
    if configuration.timeout_seconds is not None:
        params["Timeout"] = configuration.timeout_seconds
    if configuration.ephemeral_storage_mb is not None:
        params["EphemeralStorage"] = {"Size": configuration.ephemeral_storage_mb}
    if configuration.layers is not None:
        params["Layers"] = list(configuration.layers)
    if configuration.variables is not None:
        params["Environment"] = {"Variables": dict(configuration.variables)}
    return params


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def decode_log_tail(log_result: str) -> str:
    """Lambda's LogResult: the last 4 KB of the invocation's log, base64-encoded."""
    if not log_result:
        return ""
    try:
        return base64.b64decode(log_result).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return log_result


def _lambda_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    for pattern in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(value, pattern)
        except ValueError:
            continue
    return None


# --- CloudWatch ------------------------------------------------------------------------------


class CloudWatchApi:
    _BATCH = 100  # DescribeAlarms takes at most 100 names

    def __init__(self, client: CloudWatchClient, *, where: str) -> None:
        self.client = client
        self.where = where

    def alarm_states(self, names: list[str]) -> dict[str, str]:
        """``{name: StateValue}`` for the alarms (metric and composite) that exist."""
        states: dict[str, str] = {}
        paginator = self.client.get_paginator("describe_alarms")
        with translated("reading the alarms of", where=self.where):
            for start in range(0, len(names), self._BATCH):
                batch = names[start : start + self._BATCH]
                pages = paginator.paginate(
                    AlarmNames=batch, AlarmTypes=["MetricAlarm", "CompositeAlarm"]
                )
                for page in pages:
                    for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
                        states[str(alarm.get("AlarmName"))] = str(alarm.get("StateValue"))
        return states


# --- the good-versions tag (``AwsTarget.record_good``) ------------------------------------
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def parse_good(value: str) -> list[tuple[str, str]]:
    """The good-versions tag value ``"12=<digest> 11=<digest>"``; malformed parts are skipped
    (the tag is editable by anyone allowed to tag the function)."""
    entries: list[tuple[str, str]] = []
    for part in value.split():
        version, _, digest = part.partition("=")
        known = version in {v for v, _ in entries}
        if version.isdigit() and _DIGEST.match(digest) and not known:
            entries.append((version, digest))
    return entries


def format_good(entries: list[tuple[str, str]]) -> str:
    # Tag values allow letters, digits, spaces and + - = . _ : / @ only: no commas.
    return " ".join(f"{version}={digest}" for version, digest in entries)
