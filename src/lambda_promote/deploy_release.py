"""The state machine of DESIGN §6 for a release of many functions (§11.4): all or nothing.

    pending → publishing (every function) → shifting (every alias, one by one)
            → verifying (every function's checks) → succeeded
    any failure after an alias moved ─► rolling_back: each function whose alias moved goes
        back to its previous version, and each is verified ─► rolled_back | rollback_failed
    a failure before any alias moved ─► failed (nothing changed)

The deployment's ``functions`` field carries, per function, the version published and the
version before; it is written when publishing ends, before the first alias moves, so a crash
anywhere leaves a record from which the next command (``recover``) finds — by reading each
alias — which functions moved, and moves exactly those back, verified (§5.5). A function that
never moved is left alone. A single-function release never comes here: ``deploy.Deployer``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambda_promote import checks as health
from lambda_promote import deploy_traffic as traffic
from lambda_promote.deploy import Deployer
from lambda_promote.errors import PromoteError
from lambda_promote.faults import crash_point
from lambda_promote.model import (
    Artifact,
    CheckResult,
    Deployment,
    DeploymentKind,
    DeploymentState,
    FunctionRef,
    RollbackRecord,
)
from lambda_promote.outcome import describe_failures, undone_if_interrupted

if TYPE_CHECKING:
    from lambda_promote.config.schema import Environment

S = DeploymentState


@dataclass(frozen=True)
class Part:
    """One function of the release, addressed in the environment, with its verified zip."""

    name: str
    fn: FunctionRef
    artifact: Artifact
    zip_path: Path
    # The function's own configuration (``functions.NAME``), which a promotion carries on;
    # None: not recorded (a deployment of this release then records no release part).
    release_configuration: dict[str, Any] | None = None


def checks_for(env: Environment, name: str) -> list[Any]:
    """The checks of ``env`` that run against function ``name``: its own and the unnamed."""
    return [c for c in env.checks if c.function in (None, name)]


@dataclass
class ReleaseDeployer(Deployer):
    """``Deployer`` for many functions; the lock, journal and helpers are the same.
    ``fns_for(env)``: the release's functions addressed in ``env`` (recovery needs them all
    whichever command finds the interrupted deployment)."""

    fns_for: Callable[[str], Mapping[str, FunctionRef]] | None = None
    # Each alias's RevisionId as this command first read it (DESIGN §5.6): every later write
    # is guarded by it, so someone who moves an alias meanwhile is refused, never overwritten.
    seen_revisions: dict[tuple[str, str], str | None] = field(default_factory=dict)

    def _resolve_unfinished(self, fn: FunctionRef, env: Environment) -> list[Deployment]:
        fns = self.fns_for(fn.env) if self.fns_for is not None else {}
        return self.resolve_release(fns or {"": fn}, env)

    # --- deploy --------------------------------------------------------------------------
    def deploy_release(
        self,
        fns: Mapping[str, FunctionRef],
        env: Environment,
        release: Artifact,
        parts: Mapping[str, Part],
        *,
        admit: Callable[[str], None] | None = None,
        previous_digest: str | None = None,
    ) -> Deployment:
        dep_id = self.new_id()
        env_name = next(iter(fns.values())).env
        with self._locked(env_name, dep_id):
            self.resolve_release(fns, env)
            if admit is not None:
                admit(dep_id)
            functions = {
                name: self._entry(
                    part.fn,
                    part.artifact.digest,
                    None,
                    configuration=part.fn.configuration.to_json(),
                    configuration_digest=part.fn.configuration.digest,
                    release_configuration=part.release_configuration,
                )
                for name, part in parts.items()
            }
            dep = self._open(
                dep_id,
                env_name,
                release.digest,
                DeploymentKind.DEPLOY,
                functions,
                previous_digest=previous_digest,
            )
            return self._publish_all(dep, parts, env)

    def _publish_all(
        self, dep: Deployment, parts: Mapping[str, Part], env: Environment
    ) -> Deployment:
        dep = self.journal.move(dep, S.PUBLISHING)
        functions = {name: dict(entry) for name, entry in (dep.functions or {}).items()}
        for name, part in parts.items():
            try:
                with self.progress.task(
                    f"publishing {name} ({part.artifact.short}) to {part.fn.function_name}"
                ):
                    published = self.target.publish(part.fn, part.artifact, part.zip_path)
            except PromoteError as error:
                return self.journal.move(
                    dep,
                    S.FAILED,
                    note=f"publish of {name} failed",
                    error=f"{name}: {error}",
                    functions=functions,
                )
            functions[name]["version"] = published.version
        crash_point("publish")
        moving = [(parts[n].fn, e["version"]) for n, e in functions.items()
                  if e["version"] != e["previous_version"]]  # fmt: skip
        refused = traffic.before_traffic(self, dep, env, moving)
        if refused:
            why = describe_failures(refused)
            return self.journal.move(
                dep, S.FAILED, note="before_traffic hook failed", error=why, functions=functions
            )
        # Written before the first alias moves: recovery reads from here what each moves to.
        dep = self.journal.move(dep, S.SHIFTING, functions=functions)
        return self._shift_all(dep, parts, env)

    def _shift_all(
        self, dep: Deployment, parts: Mapping[str, Part], env: Environment
    ) -> Deployment:
        dep, stopped = self._release_steps(dep, parts, env)
        if stopped is not None:
            return stopped
        functions = dep.functions or {}
        for name, part in parts.items():
            entry = functions[name]
            if entry["version"] == entry["previous_version"]:
                continue  # already live: nothing to move
            self.progress.step(
                f"pointing {part.fn.function_name}:{part.fn.alias} at version {entry['version']}"
            )
            try:
                self._point(part.fn, entry["version"])
            except PromoteError as error:
                return self._undo(
                    dep, parts, env, cause=f"{name}: could not move its alias: {error.message}"
                )
            crash_point(f"shift:{name}")
        crash_point("shift")
        undo = lambda d, why: self._undo(d, parts, env, cause=why)  # noqa: E731
        with undone_if_interrupted(self.ledger, dep.id, undo):
            return self._verify_all(dep, parts, env)

    def _release_steps(
        self, dep: Deployment, parts: Mapping[str, Part], env: Environment
    ) -> tuple[Deployment, Deployment | None]:
        """Every function that moves takes each step below 100 % together (DESIGN §11.5);
        second: the rolled-back deployment when the shift stopped."""
        members = []
        for name, entry in (dep.functions or {}).items():
            fn = parts[name].fn
            alias = self.target.alias_state(fn)
            if (fn.function_name, fn.alias) in self.seen_revisions:
                alias = replace(alias, revision_id=self.seen_revisions[fn.function_name, fn.alias])
            if entry["version"] != entry["previous_version"] and alias.version is not None:
                members.append(traffic.Member(fn, entry["version"], alias, name=name))
        if not members:
            return dep, None
        undo = lambda d, why: self._undo(d, parts, env, cause=why)  # noqa: E731
        with undone_if_interrupted(self.ledger, dep.id, undo):
            shift, outcome = traffic.partial_steps(
                self, dep, env, members, pace=self.pace, checks=lambda m: checks_for(env, m.name)
            )
        for member in members:  # the weights moved the revisions: guard the next write by them
            self.seen_revisions[member.fn.function_name, member.fn.alias] = member.alias.revision_id
        if not outcome.ok:
            return shift.dep, self._undo(shift.dep, parts, env, cause=traffic.stopped_why(outcome))
        if not shift.steps:
            return shift.dep, None
        note = f"traffic 100% to {len(members)} function(s)"
        return self.journal.move(shift.dep, S.SHIFTING, note=note, traffic=shift.full()), None

    def _verify_all(
        self, dep: Deployment, parts: Mapping[str, Part], env: Environment
    ) -> Deployment:
        dep = self.journal.move(dep, S.VERIFYING, functions=self._moved(dep, parts))
        results = self._verify_parts(parts, env, phase="verify")
        self.journal.checks(dep, results)
        failed = [r for r in results if not r.ok]
        if not failed:
            moved = [(parts[n].fn, str(e["version"])) for n, e in (dep.functions or {}).items()]
            failed = traffic.after_traffic(self, dep, env, moved)
        if failed:
            return self._undo(dep, parts, env, cause=describe_failures(failed))
        for name, entry in (dep.functions or {}).items():
            self._remember_good(parts[name].fn, entry["version"], entry["digest"])
        self.progress.ok(f"{dep.env}: release {dep.short_digest} is live ({len(parts)} functions)")
        return self.journal.move(dep, S.SUCCEEDED, **traffic.last_step(dep, True))

    def _moved(self, dep: Deployment, parts: Mapping[str, Part]) -> dict[str, Any]:
        """``dep.functions`` with ``moved`` as each alias says now."""
        functions = {name: dict(entry) for name, entry in (dep.functions or {}).items()}
        for name, entry in functions.items():
            live = self.target.alias_state(parts[name].fn)
            entry["moved"] = (
                entry["version"] is not None
                # weighted counts: part of the traffic reaches the version mid-shift (§11.5)
                and (live.version == entry["version"] or entry["version"] in live.weights)
                and entry["version"] != entry["previous_version"]
            )
        return functions

    def _verify_parts(
        self, parts: Mapping[str, Part], env: Environment, *, phase: str
    ) -> list[CheckResult]:
        """Every function's checks (named ``NAME: check``), then the environment's alarms."""
        if not env.checks and not env.alarms:
            self.progress.warn("no checks configured; nothing verifies this release")
            return []
        results: list[CheckResult] = []
        for name, part in parts.items():
            chosen = checks_for(env, name)
            with self.progress.task(f"{part.fn.env}: {name}: {len(chosen)} check(s) ({phase})"):
                found = health.run_checks(self.target, part.fn, chosen, phase=phase)
                if env.bake_seconds and all(r.ok for r in found):
                    found += health.bake(self.target, part.fn, chosen, seconds=env.bake_seconds)
            results += [_named(r, name) for r in found]
        first = next(iter(parts.values()))
        return results + health.alarm_results(self.target, first.fn, env.alarms, phase=phase)

    # --- rollback of the moved functions -------------------------------------------------
    def _undo(
        self, dep: Deployment, parts: Mapping[str, Part], env: Environment, *, cause: str
    ) -> Deployment:
        """Every function whose alias moved goes back to its previous version, verified; the
        others are left alone. Nothing moved: ``failed``."""
        functions = self._moved(dep, parts)
        moved = [name for name, entry in functions.items() if entry["moved"]]
        if not moved:
            return self.journal.move(
                dep, S.FAILED, note="no alias moved", error=cause, functions=functions
            )
        self.progress.warn(f"{dep.env}: {cause}; rolling back {', '.join(moved)}")
        dep = self.journal.move(
            dep, S.ROLLING_BACK, note=cause, error=cause, functions=functions,
            **traffic.last_step(dep, False),
        )  # fmt: skip
        record = RollbackRecord(
            reason="checks failed",
            from_version=None,
            to_version=None,
            to_digest=dep.previous_digest,
        )
        stuck: list[str] = []
        for name in moved:
            if not self._move_back(parts[name].fn, functions[name]):
                stuck.append(name)
        restored = {n: parts[n] for n in moved if n not in stuck}
        results = self._verify_parts(restored, env, phase="rollback_verify") if restored else []
        self.journal.checks(dep, results)
        failed = [r for r in results if not r.ok]
        stuck += sorted({r.name.split(": ", 1)[0] for r in failed} & set(restored))
        left = sorted(set(functions) - set(moved))
        note = f"moved back: {', '.join(moved)}" + (
            f"; left alone: {', '.join(left)}" if left else ""
        )
        checks = tuple(r.to_json() for r in results)
        if stuck:
            why = f"could not restore {', '.join(stuck)}" + (
                f": {describe_failures(failed)}" if failed else ""
            )
            failed_record = _record(record, verified=False, checks=checks, note=note, error=why)
            return self.journal.move(dep, S.ROLLBACK_FAILED, note=why, rollback=failed_record)
        self.progress.ok(f"{dep.env}: {note}, verified")
        done = _record(record, verified=True, checks=checks, note=note)
        return self.journal.move(dep, S.ROLLED_BACK, rollback=done)

    def _move_back(self, fn: FunctionRef, entry: Mapping[str, Any]) -> bool:
        live = self.target.alias_state(fn)
        try:
            if entry["previous_version"] is None:
                if live.revision_id is not None:
                    self.target.remove_alias(fn, expected_revision=live.revision_id)
            else:
                self.target.point_alias(
                    fn, entry["previous_version"], expected_revision=live.revision_id
                )
        except PromoteError as error:
            self.progress.warn(f"{fn.env}: could not move {fn.function_name} back: {error}")
            return False
        return True

    def _point(self, fn: FunctionRef, version: str) -> None:
        """Move ``fn``'s alias to ``version``, guarded by the revision this command saw."""
        key = (fn.function_name, fn.alias)
        expected = (
            self.seen_revisions[key]
            if key in self.seen_revisions
            else self.target.alias_state(fn).revision_id
        )
        self.seen_revisions[key] = self.target.point_alias(
            fn, version, expected_revision=expected
        ).revision_id

    def _entry(
        self, fn: FunctionRef, digest: str, version: str | None, **recorded: Any
    ) -> dict[str, Any]:
        """One function's record in ``Deployment.functions``: what it moves to, and where its
        alias is now (the version a failure puts back)."""
        alias = self.target.alias_state(fn)
        self.seen_revisions[fn.function_name, fn.alias] = alias.revision_id
        return {
            "function_name": fn.function_name,
            "digest": digest,
            "version": version,
            "previous_version": alias.version,
            "previous_digest": alias.digest,
            "moved": False,
            **recorded,
        }

    def _open(
        self,
        dep_id: str,
        env: str,
        digest: str,
        kind: DeploymentKind,
        functions: dict[str, Any],
        **fields: Any,
    ) -> Deployment:
        return self.journal.open(
            Deployment(
                id=dep_id,
                env=env,
                digest=digest,
                state=S.PENDING,
                kind=kind,
                actor=self.actor,
                functions=functions,
                **fields,
            )
        )

    # --- crash recovery ------------------------------------------------------------------
    def resolve_release(self, fns: Mapping[str, FunctionRef], env: Environment) -> list[Deployment]:
        """Roll back, verified, whatever an interrupted release deployment moved (§5.5)."""
        resolved = []
        first = next(iter(fns.values()))
        for dep in self.ledger.unfinished(first.env):
            if dep.functions is None or set(dep.functions) - set(fns):
                resolved.append(self._resolve_one(dep, first, env))  # a single-function one
                continue
            self.progress.warn(f"{first.env}: found interrupted deployment {dep.id}")
            self.journal.note("deployment.recovering", dep, {"action": "roll_back_moved"})
            parts = {n: Part(n, fns[n], Artifact("", 0, ""), Path()) for n in dep.functions}
            if dep.state in (S.PENDING, S.PUBLISHING):
                resolved.append(
                    self.journal.move(
                        dep,
                        S.FAILED,
                        note="interrupted before any alias moved",
                        error="interrupted",
                    )
                )
                continue
            resolved.append(self._undo(dep, parts, env, cause="interrupted"))
        return resolved

    # --- manual rollback -----------------------------------------------------------------
    def rollback_release(
        self,
        fns: Mapping[str, FunctionRef],
        env: Environment,
        *,
        to: Deployment,
        reason: str,
    ) -> Deployment:
        """Move every function to the version it had in the release ``to`` (a succeeded
        deployment of this environment), and verify them all (DESIGN §5.4)."""
        dep_id = self.new_id()
        env_name = next(iter(fns.values())).env
        with self._locked(env_name, dep_id):
            recorded = ("configuration", "configuration_digest", "release_configuration")
            functions = {
                name: self._entry(
                    fns[name],
                    entry["digest"],
                    entry["version"],
                    **{key: entry[key] for key in recorded if key in entry},
                )
                for name, entry in (to.functions or {}).items()
            }
            live = next(
                iter(self.ledger.deployments(env_name, states=[S.SUCCEEDED], limit=1)), None
            )
            dep = self._open(
                dep_id,
                env_name,
                to.digest,
                DeploymentKind.ROLLBACK,
                functions,
                reason=reason,
                previous_digest=live.digest if live else None,
            )
            dep = self.journal.move(dep, S.SHIFTING, note=reason)
            parts = {n: Part(n, fns[n], Artifact("", 0, ""), Path()) for n in functions}
            return self._roll_all(dep, parts, env)

    def _roll_all(self, dep: Deployment, parts: Mapping[str, Part], env: Environment) -> Deployment:
        functions = dep.functions or {}
        stuck = []
        for name, entry in functions.items():
            if entry["version"] == entry["previous_version"]:
                continue
            fn = parts[name].fn
            self.progress.step(
                f"{dep.env}: moving {fn.function_name}:{fn.alias} from "
                f"{entry['previous_version']} to {entry['version']}"
            )
            try:
                self._point(fn, entry["version"])
            except PromoteError as error:
                self.progress.warn(f"{dep.env}: {name}: {error.message}")
                stuck.append(name)
        dep = self.journal.move(dep, S.VERIFYING, functions=self._moved(dep, parts))
        results = self._verify_parts(parts, env, phase="rollback_verify")
        self.journal.checks(dep, results)
        failed = [r for r in results if not r.ok]
        record = RollbackRecord(
            reason=dep.reason or "manual", from_version=None, to_version=None, to_digest=dep.digest
        )
        checks = tuple(r.to_json() for r in results)
        if stuck or failed:
            names = sorted(set(stuck) | {r.name.split(": ", 1)[0] for r in failed})
            why = f"could not restore {', '.join(names)}" + (
                f": {describe_failures(failed)}" if failed else ""
            )
            failed_record = _record(record, verified=False, checks=checks, error=why)
            return self.journal.move(dep, S.ROLLBACK_FAILED, note=why, rollback=failed_record)
        for name, entry in functions.items():
            self._remember_good(parts[name].fn, entry["version"], entry["digest"])
        self.progress.ok(f"{dep.env}: rolled back to release {dep.short_digest}, verified")
        done = _record(record, verified=True, checks=checks)
        return self.journal.move(dep, S.SUCCEEDED, rollback=done)


def _named(result: CheckResult, name: str) -> CheckResult:
    return replace(result, name=f"{name}: {result.name}")


def _record(record: RollbackRecord, **changes: Any) -> dict[str, Any]:
    return replace(record, **changes).to_json()
