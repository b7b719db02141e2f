"""The deployment state machine of DESIGN §6, and manual rollback.

    pending → publishing → shifting → verifying → succeeded
                                 └─ any failure ─► rolling_back → rolled_back | rollback_failed
    a failure before the alias moved ─► failed (nothing changed)

Every transition is written (``Journal.move``) before the side effect it announces, so a crash
leaves a record that the next command on the environment resolves first (``recover``). The
environment lock is held for the whole attempt; a lock left by a dead process on this machine is
broken and the interrupted deployment recovered.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from lambda_promote import checks as health
from lambda_promote import deploy_traffic as traffic
from lambda_promote.drift import Drift, environment_drift, recorded_fields
from lambda_promote.errors import ConflictError, EnvironmentLocked, PromoteError
from lambda_promote.faults import crash_point
from lambda_promote.function_config import FunctionConfiguration
from lambda_promote.journal import Journal
from lambda_promote.ledger.base import Ledger, LockInfo
from lambda_promote.model import (
    AliasState,
    Artifact,
    CheckResult,
    Deployment,
    DeploymentKind,
    DeploymentState,
    FunctionRef,
    RollbackRecord,
)
from lambda_promote.outcome import describe_failures, undone_if_interrupted
from lambda_promote.release.rollback import Action, back_to_previous, recovery_for
from lambda_promote.shifting import Progress
from lambda_promote.targets.base import Target
from lambda_promote.workspace import parse_lock_holder, this_host

if TYPE_CHECKING:
    from lambda_promote.config.schema import Environment

S = DeploymentState
# How far back the ledger is read for drift and a rollback's configuration: the newest
# finished deployment is what counts, and it is nearly always the first.
DRIFT_HISTORY = 50


def new_deployment_id() -> str:
    return f"d-{secrets.token_hex(4)}"


def lock_is_stale(info: LockInfo, *, host: str | None = None) -> bool:
    """A lock is stale when its holder (``actor@host:pid``) ran on this host and is gone."""
    holder = parse_lock_holder(info.holder)
    if holder.host != (host or this_host()) or holder.pid is None:
        return False
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass
class Deployer:
    ledger: Ledger
    target: Target
    journal: Journal
    actor: str
    holder: str
    progress: Progress
    new_id: Callable[[], str] = new_deployment_id
    # Told when a stale lock of a dead process is broken (the audit trail records it).
    on_lock_broken: Callable[[LockInfo], None] | None = None
    # The clock of a progressive shift's bakes (DESIGN §11.5); tests pass a fake one.
    pace: traffic.Pace = field(default_factory=lambda: traffic.Pace(crash=crash_point))

    # --- deploy --------------------------------------------------------------------------
    def deploy(
        self,
        fn: FunctionRef,
        env: Environment,
        artifact: Artifact,
        zip_path: Path,
        *,
        admit: Callable[[str], None] | None = None,
        alias: AliasState | None = None,
        release_configuration: FunctionConfiguration | None = None,
    ) -> Deployment:
        """Make ``artifact`` live in ``fn.env`` with ``fn.configuration`` (DESIGN §11.3),
        recorded with ``release_configuration``, the part of it a promotion carries on.
        ``admit(deployment_id)`` runs under the lock before anything is recorded: the gate,
        which raises to refuse or consumes its approval.
        ``alias``: where the plan found the alias; read again when recovery moved it. (Had
        anyone else moved it since, its revision no longer matches: a conflict, never an
        overwrite.)"""
        dep_id = self.new_id()
        with self._locked(fn.env, dep_id):
            resolved = self._resolve_unfinished(fn, env)
            if admit is not None:
                admit(dep_id)
            if alias is None or resolved:
                alias = self.target.alias_state(fn)
            drift, back_to = self._drift(fn, alias)
            dep = self.journal.open(
                Deployment(
                    id=dep_id,
                    env=fn.env,
                    digest=artifact.digest,
                    state=S.PENDING,
                    kind=DeploymentKind.DEPLOY,
                    actor=self.actor,
                    previous_version=back_to.version,
                    previous_digest=back_to.digest,
                    configuration=fn.configuration.to_json(),
                    configuration_digest=fn.configuration.digest,
                    release_configuration=(
                        release_configuration.to_json() if release_configuration else None
                    ),
                )
            )
            if drift is not None:
                self.journal.note("deployment.drift", dep, drift.to_json())
            return self._publish_and_shift(
                dep, fn, env=env, artifact=artifact, zip_path=zip_path, alias=alias
            )

    def _publish_and_shift(
        self,
        dep: Deployment,
        fn: FunctionRef,
        *,
        env: Environment,
        artifact: Artifact,
        zip_path: Path,
        alias: AliasState,
    ) -> Deployment:
        dep = self.journal.move(dep, S.PUBLISHING)
        try:
            with self.progress.task(f"publishing {artifact.short} to {fn.function_name}"):
                published = self.target.publish(fn, artifact, zip_path)
        except PromoteError as error:
            return self.journal.move(dep, S.FAILED, note="publish failed", error=error.message)
        crash_point("publish")
        if published.version == alias.version:
            return self._verify_unchanged(dep, fn, env, published.version)
        refused = traffic.before_traffic(self, dep, env, [(fn, published.version)])
        if refused:
            why = describe_failures(refused)
            return self.journal.move(dep, S.FAILED, note="before_traffic hook failed", error=why)
        dep = self.journal.move(dep, S.SHIFTING, version=published.version)
        dep, alias, stopped = traffic.shift_one(
            self, dep, env, traffic.Member(fn, published.version, alias), pace=self.pace,
            roll_back=lambda d, why, at: self._roll_back(d, fn, env, cause=why, shifted=at),
        )  # fmt: skip
        if stopped is not None:
            return stopped
        self.progress.step(f"pointing {fn.alias} at version {published.version}")
        try:
            shifted = self.target.point_alias(
                fn, published.version, expected_revision=alias.revision_id
            )
        except ConflictError as error:
            if dep.traffic:  # part of the traffic is on the new version: not "nothing changed"
                return self._roll_back(dep, fn, env, cause=error.message, shifted=alias)
            return self.journal.move(dep, S.FAILED, note="conflict", error=error.message)
        except PromoteError as error:
            # The call may or may not have moved the alias: look before deciding.
            if self.target.alias_state(fn).version != published.version:
                return self.journal.move(dep, S.FAILED, note="alias unchanged", error=error.message)
            return self._roll_back(dep, fn, env, cause=error.message)
        crash_point("shift")
        with undone_if_interrupted(
            self.ledger,
            dep.id,
            lambda d, why: self._roll_back(d, fn, env, cause=why, shifted=shifted),
        ):
            return self._verify_new(dep, fn, env, shifted)

    def _drift(self, fn: FunctionRef, alias: AliasState) -> tuple[Drift | None, AliasState]:
        """Whether someone moved the alias behind the ledger's back, said before acting; and
        where a failure rolls back to: the version the ledger left live, never one it does
        not know (DESIGN §11.3)."""
        history = self.ledger.deployments(fn.env, limit=DRIFT_HISTORY)
        drift, expected = environment_drift(
            history, alias, read_configuration=lambda v: live_configuration(self.target, fn, v)
        )
        if drift is None or expected is None:
            return None, alias
        self.progress.warn(f"{fn.env}: drift: {drift.detail}")
        back_to = AliasState(
            expected.version, revision_id=alias.revision_id, digest=expected.digest
        )
        return drift, back_to

    def _verify_new(
        self, dep: Deployment, fn: FunctionRef, env: Environment, shifted: AliasState
    ) -> Deployment:
        dep = self.journal.move(dep, S.VERIFYING)
        results = self._verify(fn, env, phase="verify")
        self.journal.checks(dep, results)
        failed = [r for r in results if not r.ok]
        if not failed:
            failed = traffic.after_traffic(self, dep, env, [(fn, str(dep.version))])
        if not failed:
            self.progress.ok(f"{fn.env}: version {dep.version} ({dep.short_digest}) is live")
            self._remember_good(fn, dep.version, dep.digest)
            return self.journal.move(dep, S.SUCCEEDED, **traffic.last_step(dep, True))
        return self._roll_back(dep, fn, env, cause=describe_failures(failed), shifted=shifted)

    def _verify_unchanged(
        self, dep: Deployment, fn: FunctionRef, env: Environment, version: str
    ) -> Deployment:
        """The artifact is already live: nothing moves, the checks say whether it is healthy."""
        self.progress.step(f"{dep.short_digest} is already live as version {version}")
        dep = self.journal.move(dep, S.VERIFYING, version=version, note="already live")
        results = self._verify(fn, env, phase="verify")
        self.journal.checks(dep, results)
        failed = [r for r in results if not r.ok]
        if failed:
            return self.journal.move(
                dep,
                S.FAILED,
                note="live version fails its checks",
                error=describe_failures(failed),
            )
        return self.journal.move(dep, S.SUCCEEDED, note="already live")

    # --- automatic rollback --------------------------------------------------------------
    def _roll_back(
        self,
        dep: Deployment,
        fn: FunctionRef,
        env: Environment,
        *,
        cause: str,
        shifted: AliasState | None = None,
        reason: str = "checks failed",
    ) -> Deployment:
        self.progress.warn(f"{fn.env}: {cause}; rolling back")
        settled = traffic.last_step(dep, False)
        dep = self.journal.move(dep, S.ROLLING_BACK, note=cause, error=cause, **settled)
        live = shifted or self.target.alias_state(fn)
        record = back_to_previous(dep, reason=reason)
        try:
            if dep.previous_version is None:
                return self._undo_first_deployment(dep, fn, live, record)
            self.target.point_alias(fn, dep.previous_version, expected_revision=live.revision_id)
        except PromoteError as error:
            return self._rollback_failed(dep, record, f"could not move the alias back: {error}")
        return self._verify_restored(dep, fn, env, record)

    def _undo_first_deployment(
        self, dep: Deployment, fn: FunctionRef, live: AliasState, record: RollbackRecord
    ) -> Deployment:
        if live.version is not None and live.revision_id is not None:
            self.target.remove_alias(fn, expected_revision=live.revision_id)
        note = "first deployment: nothing to roll back to, the alias was removed (absent again)"
        self.progress.warn(f"{fn.env}: {note}")
        record = replace(record, verified=True, note=note, checks=())
        return self.journal.move(dep, S.ROLLED_BACK, note=note, rollback=record.to_json())

    def _verify_restored(
        self, dep: Deployment, fn: FunctionRef, env: Environment, record: RollbackRecord
    ) -> Deployment:
        failed, record = self._verify_rollback(dep, fn, env, record)
        if failed:
            return self._rollback_failed(
                dep,
                record,
                f"version {dep.previous_version} fails its checks after rollback: "
                f"{describe_failures(failed)}",
            )
        self.progress.ok(f"{fn.env}: rolled back to version {dep.previous_version}, verified")
        return self.journal.move(dep, S.ROLLED_BACK, rollback=record.to_json())

    def _verify_rollback(
        self, dep: Deployment, fn: FunctionRef, env: Environment, record: RollbackRecord
    ) -> tuple[list[CheckResult], RollbackRecord]:
        """Check the version a rollback put live; the results go to the ledger and into the
        rollback's record. Returns the failed ones and the record."""
        results = self._verify(fn, env, phase="rollback_verify")
        self.journal.checks(dep, results)
        failed = [r for r in results if not r.ok]
        checks = tuple(r.to_json() for r in results)
        return failed, replace(record, verified=not failed, checks=checks)

    def _rollback_failed(self, dep: Deployment, record: RollbackRecord, why: str) -> Deployment:
        record = replace(record, verified=False, error=why)
        return self.journal.move(dep, S.ROLLBACK_FAILED, note=why, rollback=record.to_json())

    # --- manual rollback -----------------------------------------------------------------
    def rollback_to(
        self,
        fn: FunctionRef,
        env: Environment,
        *,
        version: str,
        digest: str,
        reason: str,
        alias: AliasState | None = None,
    ) -> Deployment:
        """Move the alias to an earlier ``version`` and verify it (DESIGN §5.4). The plan
        chose the version (``release.rollback``) and read ``alias``."""
        dep_id = self.new_id()
        with self._locked(fn.env, dep_id):
            if alias is None:
                alias = self.target.alias_state(fn)
            history = self.ledger.deployments(fn.env, limit=DRIFT_HISTORY)
            dep = self.journal.open(
                Deployment(
                    id=dep_id,
                    env=fn.env,
                    digest=digest,
                    state=S.PENDING,
                    kind=DeploymentKind.ROLLBACK,
                    actor=self.actor,
                    reason=reason,
                    version=version,
                    previous_version=alias.version,
                    previous_digest=alias.digest,
                    **recorded_fields(history, version),
                )
            )
            dep = self.journal.move(dep, S.SHIFTING, note=reason)
            self.progress.step(f"{fn.env}: moving {fn.alias} from {alias.version} to {version}")
            try:
                self.target.point_alias(fn, version, expected_revision=alias.revision_id)
            except PromoteError as error:
                return self.journal.move(dep, S.FAILED, note="alias unchanged", error=error.message)
            return self._verify_manual(dep, fn, env)

    def _verify_manual(self, dep: Deployment, fn: FunctionRef, env: Environment) -> Deployment:
        dep = self.journal.move(dep, S.VERIFYING)
        record = RollbackRecord(
            reason=dep.reason or "manual",
            from_version=dep.previous_version,
            to_version=dep.version,
            to_digest=dep.digest,
        )
        failed, record = self._verify_rollback(dep, fn, env, record)
        if failed:
            return self._rollback_failed(
                dep, record, f"version {dep.version} fails its checks: {describe_failures(failed)}"
            )
        self.progress.ok(f"{fn.env}: rolled back to version {dep.version}, verified")
        with self._remembering_good(fn, dep.version, dep.digest, abandoned=dep.previous_version):
            return self.journal.move(dep, S.SUCCEEDED, rollback=record.to_json())

    @contextmanager
    def _remembering_good(
        self, fn: FunctionRef, version: str | None, digest: str, *, abandoned: str | None
    ) -> Iterator[None]:
        """``_remember_good`` while the block runs: the tag write (a round trip to AWS) and
        the success recorded in the ledger (commits, reports) do not wait for each other.
        Both follow the verification and both end before the block does, under the lock."""
        failures: list[BaseException] = []

        def remember() -> None:
            try:
                self._remember_good(fn, version, digest, abandoned=abandoned)
            except BaseException as error:  # raised here, in the caller's thread, below
                failures.append(error)

        tagging = threading.Thread(target=remember, name="lambda-promote-good", daemon=True)
        tagging.start()
        try:
            yield
        finally:
            tagging.join()
        if failures:
            raise failures[0]

    # --- crash recovery ------------------------------------------------------------------
    def recover(self, fn: FunctionRef, env: Environment) -> list[Deployment]:
        """Resolve, under the environment's lock, every deployment of ``fn.env`` that a dead
        process left unfinished; returns them as resolved."""
        with self._locked(fn.env, self.new_id()):
            return self._resolve_unfinished(fn, env)

    def _resolve_unfinished(self, fn: FunctionRef, env: Environment) -> list[Deployment]:
        return [self._resolve_one(dep, fn, env) for dep in self.ledger.unfinished(fn.env)]

    def _resolve_one(self, dep: Deployment, fn: FunctionRef, env: Environment) -> Deployment:
        decision = recovery_for(dep, self.target.alias_state(fn))
        self.progress.warn(f"{fn.env}: found interrupted deployment {dep.id}: {decision.why}")
        self.journal.note(
            "deployment.recovering", dep, {"action": decision.action.value, "why": decision.why}
        )
        return self._carry_out(dep, fn, env, decision.action, decision.why)

    def _carry_out(
        self, dep: Deployment, fn: FunctionRef, env: Environment, action: Action, why: str
    ) -> Deployment:
        if action is Action.MARK_FAILED:
            return self.journal.move(dep, S.FAILED, note=why, error="interrupted")
        if action is Action.ROLL_BACK:
            return self._roll_back(dep, fn, env, cause=why, reason="interrupted")
        if action is Action.VERIFY_TARGET:
            if dep.state is not S.VERIFYING:
                dep = self.journal.move(dep, S.VERIFYING, note=why)
            return self._verify_manual(dep, fn, env)
        record = back_to_previous(dep, reason="interrupted")
        if action is Action.VERIFY_PREVIOUS:
            if dep.state is not S.ROLLING_BACK:
                dep = self.journal.move(dep, S.ROLLING_BACK, note=why, error="interrupted")
            return self._verify_restored(dep, fn, env, record)
        if dep.state is not S.ROLLING_BACK:
            dep = self.journal.move(dep, S.ROLLING_BACK, note=why, error="interrupted")
        return self._rollback_failed(dep, record, why)

    def _remember_good(
        self, fn: FunctionRef, version: str | None, digest: str, *, abandoned: str | None = None
    ) -> None:
        """Record the verified version on the function itself, so a rollback works from a
        machine whose ledger is empty; failing to is a warning, not a failed deployment."""
        if version is None:
            return
        try:
            self.target.record_good(fn, version, digest, abandoned=abandoned)
        except PromoteError as error:
            self.progress.warn(
                f"{fn.env}: could not record version {version} as good on the function: "
                f"{error.message}"
            )

    # --- shared pieces -------------------------------------------------------------------
    def _verify(self, fn: FunctionRef, env: Environment, *, phase: str) -> list[CheckResult]:
        if not env.checks and not env.alarms:
            self.progress.warn(f"{fn.env}: no checks configured; nothing verifies this version")
            return []
        with self.progress.task(f"{fn.env}: running {len(env.checks)} check(s) ({phase})"):
            results = health.run_checks(self.target, fn, env.checks, phase=phase)
            results += health.alarm_results(self.target, fn, env.alarms, phase=phase)
        if env.bake_seconds and all(r.ok for r in results):
            with self.progress.task(f"{fn.env}: baking for {env.bake_seconds} s") as task:
                results += health.bake(
                    self.target,
                    fn,
                    env.checks,
                    seconds=env.bake_seconds,
                    alarms=env.alarms,
                    on_round=lambda n, _results: task.update(f"round {n}"),
                )
        return results

    @contextmanager
    def _locked(self, env: str, deployment_id: str) -> Iterator[None]:
        try:
            self.ledger.acquire_lock(env, holder=self.holder, deployment_id=deployment_id)
        except EnvironmentLocked:
            info = self.ledger.lock_info(env)
            if info is None or not lock_is_stale(info):
                raise
            self.progress.warn(
                f"{env}: breaking the lock of {info.holder} (deployment {info.deployment_id}, "
                "process gone)"
            )
            self.ledger.break_lock(env, info.deployment_id)
            if self.on_lock_broken is not None:
                self.on_lock_broken(info)
            self.ledger.acquire_lock(env, holder=self.holder, deployment_id=deployment_id)
        try:
            yield
        finally:
            self.ledger.release_lock(env, deployment_id)


def live_configuration(
    target: Target, fn: FunctionRef, version: str
) -> FunctionConfiguration | None:
    """The configuration ``version`` runs with, or None when it cannot be read (drift is then
    told without its configuration part)."""
    try:
        return target.configuration(fn, version)
    except PromoteError:
        return None
