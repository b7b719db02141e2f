"""The ``aws`` target: ``targets.base.Target`` on real Lambda (DESIGN §6), through aws.py.

A deployment reads, then writes only on the condition that nothing moved since it read:

    publish      get_function_configuration ($LATEST: RevisionId, CodeSha256)
                 → update_function_code(ZipFile | S3Bucket/S3Key, RevisionId)   skipped when
                   $LATEST already holds these bytes, as Lambda's publish_version would be a no-op
                 → waiter function_updated_v2 (its last GetFunction: the new RevisionId, tags)
                 → update_function_configuration(managed keys, RevisionId)   only when $LATEST
                   lacks the release's configuration (memory, timeout, storage, layers, variables)
                 → waiter function_updated_v2
                 → publish_version(CodeSha256=<our digest>, RevisionId)        never another's code
                   (the version answered must hold our code and our configuration)
    point_alias  update_alias(FunctionVersion, RevisionId=<as read>) | create_alias (first time)
    weigh_alias  update_alias(FunctionVersion, RevisionId, RoutingConfig.AdditionalVersionWeights)
    remove_alias get_alias (revision check) → delete_alias

Nothing is read twice in a process when the first answer still holds: a version's digest and
the function's ARN never change, the waiter's last answer is the settled $LATEST, and the
function's tags read there serve ``record_good`` (the tag is ours, written under the
environment's lock). ``point_alias`` answers with the digest of the version it pointed at only
when this process has read it already: no caller needs it, and a rollback would pay a read.

A ``PreconditionFailedException``/``ResourceConflictException`` is a ``ConflictError``: the
deployment stops and is recorded; nothing is retried over someone else's change. Throttling is
retried by botocore (standard mode). Zips over Lambda's direct-upload limit go through their S3
object when the artifact store is S3 (``artifact.path`` is then an ``s3://`` URL).

Rollback without the ledger: after each verified success the caller records the version on
the function itself (``record_good``): the tag ``lambda-promote:<alias>:good`` holds the last
two good versions with their digests, newest first (``"12=<sha256> 11=<sha256>"``), so a fresh
machine with an empty ledger can still roll back (``rollback_candidate``). The tag is a hint:
each entry is checked against the version's own CodeSha256 before it is used.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lambda_promote.errors import ConflictError, PromoteError, TargetError
from lambda_promote.function_config import FunctionConfiguration, differences
from lambda_promote.model import AliasState, Artifact, FunctionRef, InvokeResult, PublishedVersion
from lambda_promote.targets.aws import (
    Connector,
    SessionFactory,
    where_text,
)
from lambda_promote.targets.aws_lambda import (
    AliasConfig,
    CloudWatchApi,
    FunctionConfig,
    LambdaApi,
    S3Location,
    Settled,
    format_good,
    parse_good,
)

DIRECT_UPLOAD_LIMIT = 50 * 1024 * 1024  # Lambda: 50 MB zipped when uploaded in the request
GOOD_TAG = "lambda-promote:{alias}:good"
GOOD_KEEP = 2  # 2 x (version "=" 64 hex) fits Lambda's 256-character tag values with room


_log = logging.getLogger(__name__)


class AwsTarget:
    """Lambda through boto3. One instance serves every environment: each ``FunctionRef``
    carries its region, profile and role, and the sessions are cached per access."""

    def __init__(
        self,
        *,
        session_factory: SessionFactory | None = None,
        max_attempts: int | None = None,  # None: AWS_MAX_ATTEMPTS, else 8
        direct_upload_limit: int = DIRECT_UPLOAD_LIMIT,
        warn: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._connector = Connector(
            session_factory=session_factory, max_attempts=max_attempts, clock=clock
        )
        self._direct_upload_limit = direct_upload_limit
        self._warn = warn or _log.warning
        # A version's code never changes, nor a function's ARN: each is read once per process.
        self._digests: dict[tuple[Any, ...], str] = {}
        self._arns: dict[tuple[Any, ...], str] = {}
        self._tags: dict[tuple[Any, ...], dict[str, str]] = {}
        self._seen_lock = threading.Lock()

    # --- the Target protocol ----------------------------------------------------------------

    def alias_state(self, fn: FunctionRef, *, changing: bool = False) -> AliasState:
        api = self._api(fn)
        if changing:
            alias, live = self._alias_and_live(fn, api)
        else:
            alias, live = api.alias(fn.alias), None
        if alias is None:
            api.configuration()  # Lambda says "not found" for a missing function too: tell apart
            return AliasState(version=None)
        if changing and live is not None and live.config.version == alias.version:
            self._keep_with_tags(fn, live)
        digest = self._version_digest(fn, api, alias.version)
        return AliasState(alias.version, alias.revision_id, digest, weights=dict(alias.weights))

    def _alias_and_live(
        self, fn: FunctionRef, api: LambdaApi
    ) -> tuple[AliasConfig | None, Settled | None]:
        """The alias (GetAlias, for its RevisionId) and, at the same time, the version it
        serves with the function's tags (GetFunction on the alias): two round trips in the
        time of one. ``None`` for the second when it failed (the alias is missing, say); the
        caller then reads what it needs one call at a time, as a reading command does."""
        live: list[Settled] = []

        def read_live() -> None:
            with contextlib.suppress(PromoteError):  # read again, one call at a time
                live.append(api.function(fn.alias))

        reader = threading.Thread(target=read_live, name="lambda-promote-live", daemon=True)
        reader.start()
        try:
            alias = api.alias(fn.alias)
        finally:
            reader.join()
        return alias, (live[0] if live else None)

    def _keep_with_tags(self, fn: FunctionRef, live: Settled) -> None:
        """A command about to change the alias records the good-versions tag afterwards
        (``record_good``): with the tags GetFunction returned, it needs no ListTags then.
        GetFunction is in the deploy policy, not the read one, so only changing commands
        ask for it."""
        self._seen(fn, live.config)
        if live.tags is not None:  # none set, or no lambda:ListTags: read them when needed
            with self._seen_lock:
                self._tags[_function_key(fn)] = live.tags

    def publish(self, fn: FunctionRef, artifact: Artifact, zip_path: Path) -> PublishedVersion:
        api = self._api(fn)
        latest = self._settled_latest(fn, api)
        self._check_compatible(fn, artifact, latest)
        wanted = fn.configuration
        if latest.digest == artifact.digest:
            live = self._live_version_holding(fn, api, artifact.digest, wanted)
            if live is not None:
                return live  # already published and live: write nothing at all
        current = latest
        if latest.digest != artifact.digest:
            zip_bytes, s3 = self._code_source(fn, artifact, Path(zip_path))
            api.update_code(zip_bytes=zip_bytes, s3=s3, revision_id=latest.revision_id)
            current = self._wait_updated(fn, api)
        if not wanted.satisfied_by(current.settings):
            # The version must carry the configuration with the code (DESIGN §11.3).
            api.update_configuration(wanted, revision_id=current.revision_id)
            current = self._wait_updated(fn, api)
        published = api.publish_version(
            digest=artifact.digest,
            revision_id=current.revision_id,
            description=_description(artifact),
        )
        _check_published(fn, artifact, published, wanted)
        if published.state == "Pending":
            api.wait_version_active(published.version)
        self._seen(fn, published)
        return _published(published)

    def configuration(self, fn: FunctionRef, version: str) -> FunctionConfiguration:
        """The configuration ``version`` runs with (every key, as Lambda reports it)."""
        config = self._api(fn).configuration(version)
        self._seen(fn, config)
        return config.settings

    def point_alias(
        self, fn: FunctionRef, version: str, *, expected_revision: str | None
    ) -> AliasState:
        api = self._api(fn)
        if expected_revision is None:
            moved = api.create_alias(fn.alias, version)
        else:
            moved = api.update_alias(fn.alias, version, revision_id=expected_revision)
        return self._moved(fn, moved)

    def weigh_alias(
        self, fn: FunctionRef, version: str, weights: dict[str, float], *, expected_revision: str
    ) -> AliasState:
        api = self._api(fn)
        return self._moved(
            fn, api.update_alias(fn.alias, version, revision_id=expected_revision, weights=weights)
        )

    def _moved(self, fn: FunctionRef, moved: AliasConfig) -> AliasState:
        with self._seen_lock:
            digest = self._digests.get(_version_key(fn, moved.version))
        return AliasState(moved.version, moved.revision_id, digest, weights=dict(moved.weights))

    def remove_alias(self, fn: FunctionRef, *, expected_revision: str) -> None:
        # DeleteAlias takes no RevisionId: the check below leaves a window of one round trip
        # in which another writer's change could be deleted (documented in docs/aws.md).
        api = self._api(fn)
        current = api.alias(fn.alias)
        if current is None or current.revision_id != expected_revision:
            raise ConflictError(
                f"while deleting the alias {fn.alias} of {where_text(fn)}: it was changed by "
                f"someone else (revision {current.revision_id if current else 'none'}, "
                f"expected {expected_revision})",
                hint="another deployment or a person moved it; check `lambda-promote status`",
            )
        api.delete_alias(fn.alias)

    def invoke(
        self, fn: FunctionRef, payload: Any, *, qualifier: str | None = None
    ) -> InvokeResult:
        try:
            body = json.dumps(payload).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise TargetError(f"the payload is not JSON: {exc}", hint="use plain JSON") from None
        api = self._api(fn)
        started = time.monotonic()
        answer = api.invoke(qualifier or fn.alias, body)
        latency_ms = (time.monotonic() - started) * 1000
        return InvokeResult(
            payload=_decoded(answer.payload),
            function_error=answer.function_error,
            logs=answer.log_tail,
            latency_ms=latency_ms,
            version=answer.executed_version,
        )

    def list_versions(self, fn: FunctionRef) -> list[PublishedVersion]:
        versions = sorted(self._api(fn).versions(), key=lambda v: int(v.version))
        for v in versions:
            self._seen(fn, v)
        return [_published(v) for v in versions]

    def alarms_firing(self, fn: FunctionRef, alarm_names: list[str]) -> list[str]:
        if not alarm_names:
            return []
        alarms = CloudWatchApi(
            self._connector.cloudwatch_client(fn), where=f"{fn.env} ({fn.region})"
        )
        states = alarms.alarm_states(list(alarm_names))
        missing = [name for name in alarm_names if name not in states]
        if missing:
            raise TargetError(
                f"the alarm(s) {', '.join(missing)} of {fn.env} do not exist in {fn.region}",
                hint=f"check `alarms:` of {fn.env} in promote.yaml (names are case-sensitive, "
                "and alarms live in the environment's account and region)",
            )
        return [name for name in alarm_names if states[name] == "ALARM"]

    # --- rollback without the ledger ---------------------------------------------------------

    def record_good(
        self, fn: FunctionRef, version: str, digest: str, *, abandoned: str | None = None
    ) -> None:
        """Put ``version`` first in the alias's good-versions tag (keeping ``GOOD_KEEP``); a
        manual rollback passes the version it left as ``abandoned``, which is dropped."""
        api = self._api(fn)
        arn = self._function_arn(fn, api)
        key = GOOD_TAG.format(alias=fn.alias)
        dropped = {version, abandoned}
        tags = self._function_tags(fn, api, arn)
        kept = [(v, d) for v, d in parse_good(tags.get(key, "")) if v not in dropped]
        value = format_good([(version, digest.lower()), *kept][:GOOD_KEEP])
        api.tag(arn, {key: value})
        with self._seen_lock:
            self._tags[_function_key(fn)] = {**tags, key: value}

    def good_versions(self, fn: FunctionRef) -> list[tuple[str, str]]:
        """``(version, digest)`` from the tag, newest first, each confirmed by the version's
        own code; an entry whose version is gone or holds other code is left out."""
        api = self._api(fn)
        arn = self._function_arn(fn, api)
        tags = api.tags(arn)  # read afresh: a fresh machine trusts nothing else
        with self._seen_lock:
            self._tags[_function_key(fn)] = tags
        confirmed = []
        for version, digest in parse_good(tags.get(GOOD_TAG.format(alias=fn.alias), "")):
            try:
                actual = self._version_digest(fn, api, version)
            except TargetError as error:
                self._warn(f"{fn.env}: ignoring good version {version} from the tag: {error}")
                continue
            if actual != digest:
                self._warn(
                    f"{fn.env}: ignoring good version {version} from the tag: it holds code "
                    f"{actual[:12]}, the tag says {digest[:12]}"
                )
                continue
            confirmed.append((version, digest))
        return confirmed

    def caller_arn(self, fn: FunctionRef) -> str:
        """Who AWS sees in ``fn.env`` (an assumed role shows the deployment's session name)."""
        return self._connector.caller_arn(fn)

    # --- pieces ------------------------------------------------------------------------------

    def _api(self, fn: FunctionRef) -> LambdaApi:
        client = self._connector.lambda_client(fn)
        return LambdaApi(client, function_name=fn.function_name, where=where_text(fn))

    def _live_version_holding(
        self, fn: FunctionRef, api: LambdaApi, digest: str, wanted: FunctionConfiguration
    ) -> PublishedVersion | None:
        """The alias's version when it already holds this code with this configuration."""
        alias = api.alias(fn.alias)
        if alias is None or self._version_digest(fn, api, alias.version) != digest:
            return None
        live = api.configuration(alias.version)
        return _published(live) if wanted.satisfied_by(live.settings) else None

    def _settled_latest(self, fn: FunctionRef, api: LambdaApi) -> FunctionConfig:
        """$LATEST once no update (ours or another's) is still in progress."""
        latest = api.configuration()
        if latest.last_update_status == "InProgress":
            latest = self._wait_updated(fn, api)
        self._seen(fn, latest)
        return latest

    def _wait_updated(self, fn: FunctionRef, api: LambdaApi) -> FunctionConfig:
        """$LATEST once the update finished, from the waiter's last answer when it kept one."""
        settled = api.wait_updated()
        if settled is None:
            return api.configuration()
        self._seen(fn, settled.config)
        if settled.tags is not None:
            with self._seen_lock:
                self._tags[_function_key(fn)] = settled.tags
        return settled.config

    def _function_tags(self, fn: FunctionRef, api: LambdaApi, arn: str) -> dict[str, str]:
        with self._seen_lock:
            known = self._tags.get(_function_key(fn))
        return dict(known) if known is not None else api.tags(arn)

    def _check_compatible(
        self, fn: FunctionRef, artifact: Artifact, latest: FunctionConfig
    ) -> None:
        built_for = artifact.architecture
        if built_for and latest.architectures and built_for not in latest.architectures:
            raise TargetError(
                f"{where_text(fn)} runs on {', '.join(latest.architectures)} but the "
                f"artifact {artifact.short} was built for {built_for}",
                hint="set function.architecture in promote.yaml to the function's, or "
                "change the function's architecture in AWS, then build again",
            )
        if artifact.runtime and latest.runtime and artifact.runtime != latest.runtime:
            self._warn(
                f"{fn.env}: {fn.function_name} runs {latest.runtime} but the artifact was "
                f"built for {artifact.runtime}; its dependencies may not load"
            )

    def _code_source(
        self, fn: FunctionRef, artifact: Artifact, zip_path: Path
    ) -> tuple[bytes | None, S3Location | None]:
        """The zip's bytes for a direct upload, or its S3 object when too big for one."""
        size = _size(zip_path)
        if size > self._direct_upload_limit:
            location = s3_location(artifact.path)
            if location is None:
                raise TargetError(
                    f"the artifact {artifact.short} is {size / 2**20:.1f} MB, over Lambda's "
                    f"{self._direct_upload_limit / 2**20:.0f} MB limit for a direct upload",
                    hint="store artifacts in S3 (`artifacts: s3://bucket/prefix`, a bucket "
                    f"in {fn.region}) so Lambda reads the code from there",
                )
            _verified_bytes(zip_path, artifact, read=False)
            return None, location
        return _verified_bytes(zip_path, artifact, read=True), None

    def _version_digest(self, fn: FunctionRef, api: LambdaApi, version: str) -> str:
        with self._seen_lock:
            known = self._digests.get(_version_key(fn, version))
        if known is not None:
            return known
        config = api.configuration(version)
        self._seen(fn, config)
        return config.digest

    def _function_arn(self, fn: FunctionRef, api: LambdaApi) -> str:
        """The unqualified ARN (tags live on the function), from any configuration read."""
        with self._seen_lock:
            known = self._arns.get(_function_key(fn))
        if known is not None:
            return known
        config = api.configuration()
        self._seen(fn, config)
        return config.arn

    def _seen(self, fn: FunctionRef, config: FunctionConfig) -> None:
        """Keep what cannot change from a configuration just read: the function's ARN and,
        for a published version (not $LATEST), its digest."""
        with self._seen_lock:
            if config.arn:
                self._arns[_function_key(fn)] = config.arn
            if config.digest and config.version != "$LATEST":
                self._digests[_version_key(fn, config.version)] = config.digest


def _function_key(fn: FunctionRef) -> tuple[Any, ...]:
    """One function as this process reaches it (the same name may be another function in
    another region or account)."""
    return (fn.region, fn.profile, fn.role_arn, fn.function_name)


def _version_key(fn: FunctionRef, version: str) -> tuple[Any, ...]:
    return (*_function_key(fn), version)


def s3_location(path: str) -> S3Location | None:
    if not path.startswith("s3://"):
        return None
    bucket, _, key = path.removeprefix("s3://").partition("/")
    return S3Location(bucket, key) if bucket and key else None


def _size(zip_path: Path) -> int:
    try:
        return zip_path.stat().st_size
    except OSError as exc:
        raise TargetError(
            f"cannot read the artifact {zip_path}: {exc.strerror}",
            hint="build it again with `lambda-promote build`",
        ) from None


def _verified_bytes(zip_path: Path, artifact: Artifact, *, read: bool) -> bytes | None:
    """The zip's bytes (when ``read``), refused unless they hash to the release's digest."""
    try:
        data = zip_path.read_bytes()
    except OSError as exc:
        raise TargetError(
            f"cannot read the artifact {zip_path}: {exc.strerror}",
            hint="build it again with `lambda-promote build`",
        ) from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != artifact.digest.lower():
        raise TargetError(
            f"the artifact {zip_path} hashes to {actual[:12]}, not {artifact.short}: "
            "refusing to publish bytes that are not the release",
            hint="the file changed after it was built; fetch it again or rebuild it",
        )
    return data if read else None


def _check_published(
    fn: FunctionRef, artifact: Artifact, published: FunctionConfig, wanted: FunctionConfiguration
) -> None:
    """The version Lambda answered with holds our code and our configuration; else someone
    changed the function between our writes, and we stop rather than shift to it."""
    if published.digest != artifact.digest:
        what = f"code {published.digest[:12] or 'unknown'}, not {artifact.short}"
    elif not wanted.satisfied_by(published.settings):
        what = "another configuration than the release's: " + "; ".join(
            differences(published.settings.only(wanted.managed).to_json(), wanted.to_json())
        )
    else:
        return
    raise ConflictError(
        f"while publishing a version of {where_text(fn)}: version {published.version} holds "
        + what,
        hint="someone else changed the function at the same time; check "
        "`lambda-promote status` and run the command again",
    )


def _description(artifact: Artifact) -> str:
    return " ".join(filter(None, ["lambda-promote", artifact.digest, artifact.commit]))


def _published(config: FunctionConfig) -> PublishedVersion:
    return PublishedVersion(
        version=config.version,
        digest=config.digest,
        description=config.description,
        created_at=config.last_modified,
    )


def _decoded(payload: bytes) -> Any:
    """The handler's answer as JSON when it is JSON, else as text (as the console shows it)."""
    text = payload.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested past what json can follow
        return text
