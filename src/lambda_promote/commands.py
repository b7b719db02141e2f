"""The commands of DESIGN §4, each a few lines: call the layer that does the work, shape an
``Outcome``. ``deploy`` and ``rollback`` go through ``release`` (gather → plan → execute);
``--dry-run`` shows the plan instead of executing it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from lambda_promote.invocation import Invocation, Outcome, command

if TYPE_CHECKING:
    from lambda_promote.release.models import Plan
    from lambda_promote.status import EnvStatus


@command("init")
@click.option("--example", is_flag=True, help="Also write a working example function.")
@click.option("--force", is_flag=True, help="Overwrite an existing promote.yaml.")
def init_command(inv: Invocation, example: bool, force: bool) -> Outcome:
    """Write a commented promote.yaml (and an example function with --example)."""
    from lambda_promote.scaffold import write_config

    folder = inv.config_path.parent
    written = write_config(folder, example=example, force=force)
    for path in written:
        inv.ui.ok(f"wrote {path}")
    if example:
        inv.ui.detail("next: `lambda-promote build`, then `lambda-promote deploy staging`")
    return Outcome(data={"written": [str(p) for p in written]}, text=None)


@command("validate")
def validate_command(inv: Invocation) -> Outcome:
    """Check promote.yaml: schema, references between environments, the handler."""
    from lambda_promote.config import validate

    report = validate(inv.config_path)
    for warning in report.warnings:
        inv.ui.warn(str(warning))
        if warning.hint:
            inv.ui.detail(f"hint: {warning.hint}")
    config = report.config
    inv.ui.ok(
        f"{inv.config_path}: valid — project {config.project}, target {config.target}, "
        f"environments {', '.join(config.environments)}"
    )
    return Outcome(
        data={
            "project": config.project,
            "environments": list(config.environments),
            "warnings": [str(w) for w in report.warnings],
        }
    )


@command("build")
def build_command(inv: Invocation) -> Outcome:
    """Build the artifact once; identical inputs give the identical digest (cached)."""
    from lambda_promote import building
    from lambda_promote.output import artifact_json, release_json

    recalled = building.build_unchanged(inv.config_path, inv.ui)
    if recalled is not None:
        inv.keep_secret(recalled.plan.secret_names)
        art, cached = recalled.artifact, True
        functions = {name: (a, True) for name, a in recalled.functions.items()}
    else:
        result = building.build(inv.workspace(check_source=True))
        art, cached = result.artifact, result.cached
        functions = {name: (r.artifact, r.cached) for name, r in result.functions.items()}
    what = "release" if functions and len(functions) > 1 else "artifact"
    inv.ui.ok(f"{what} {art.short} ({art.size:,} bytes){' — cached' if cached else ''}")
    if what == "release":
        data = {"release": release_json(art, functions)}
    else:
        data = {"artifact": artifact_json(art, cached=cached)}
        data["release"] = release_json(art, functions or {"function": (art, cached)})
    return Outcome(data=data, text=art.digest)


DRY_RUN_HELP = (
    "Print the plan and change nothing; exit as the real run would start (0, 5 gated, 6 locked)."
)


@command("deploy")
@click.argument("env")
@click.option("--artifact", "digest", metavar="DIGEST", help="Deploy this built artifact.")
@click.option("--dry-run", is_flag=True, help=DRY_RUN_HELP)
def deploy_command(inv: Invocation, env: str, digest: str | None, dry_run: bool) -> Outcome:
    """Deploy to ENV, verify with its checks, roll back automatically on failure."""
    from lambda_promote.output import deployment_lines
    from lambda_promote.release import flows

    ws = inv.workspace(check_source=digest is None)
    if dry_run:
        return show_plan(inv, flows.deploy_plan(ws, env, artifact=digest))
    dep = flows.deploy(ws, env, artifact=digest)
    for line in deployment_lines(dep)[1:4]:
        inv.ui.detail(line.strip())
    for check in dep.checks:
        verdict = f"pass in {check.latency_ms:.0f} ms" if check.ok else f"FAIL: {check.detail}"
        inv.ui.detail(f"check {check.name} ({check.phase}): {verdict}")
    return Outcome(data={"deployment": dep}, text=dep.id)


@command("rollback")
@click.argument("env")
@click.option(
    "--to", "to", metavar="VERSION|DIGEST", help="Go to this version (default: the last good one)."
)
@click.option("--reason", default="", help="Why; kept in the ledger and the audit trail.")
@click.option("--dry-run", is_flag=True, help=DRY_RUN_HELP)
def rollback_command(
    inv: Invocation, env: str, to: str | None, reason: str, dry_run: bool
) -> Outcome:
    """Manual/emergency rollback of ENV to an earlier good version, verified."""
    from lambda_promote.release import flows

    if dry_run:
        return show_plan(inv, flows.rollback_plan(inv.workspace(), env, to=to, reason=reason))
    dep = flows.rollback(inv.workspace(), env, to=to, reason=reason)
    return Outcome(data={"deployment": dep}, text=dep.id)


def show_plan(inv: Invocation, plan: Plan, **data: Any) -> Outcome:
    """A dry run's answer: the plan for people (stderr) and scripts (``plan``), exiting
    as the real run would start — with its gate's or lock's error."""
    from lambda_promote.release.display import plan_json, plan_lines

    inv.ui.step(f"{plan.kind.value} {plan.env.env} (dry run): nothing will be changed")
    for line in plan_lines(plan):
        inv.ui.detail(line)
    body = {"dry_run": True, "plan": plan_json(plan), **data}
    stopping = plan.stopping_error()
    if stopping is not None:
        stopping.payload.update(body)
        raise stopping
    inv.ui.ok(f"{plan.env.env}: the {plan.kind.value} would proceed")
    return Outcome(data=body)


@command("status")
@click.argument("env", required=False)
def status_command(inv: Invocation, env: str | None) -> Outcome:
    """What is live where, locks, and deployments still in flight."""
    from lambda_promote import status
    from lambda_promote.attested import UNKEYED_WARNING
    from lambda_promote.audit_trail import keyring

    ws = inv.workspace()
    rows = status.status(ws, env)
    key = keyring().current_id
    if key is None and any(
        e.promote_from or e.approval or e.branches for e in ws.config.environments.values()
    ):
        inv.ui.warn(UNKEYED_WARNING)
    lines = []
    flights = {row.env: [status.in_flight_json(ws, d) for d in row.in_flight] for row in rows}
    for row in rows:
        live = f"version {row.version} ({(row.digest or '')[:12]})" if row.version else "nothing"
        who = f" by {row.deployed_by} at {row.deployed_at}" if row.deployed_by else ""
        if row.functions:
            release = (
                f"release {(row.digest or '')[:12]}"
                if row.deployed_by
                else ("nothing" if row.version is None else "no recorded release")
            )
            lines.append(
                f"{row.env:<12} {len(row.functions)} functions:{row.alias}  {release}{who}"
            )
        else:
            lines.append(f"{row.env:<12} {row.function_name}:{row.alias}  {live}{who}")
        if row.functions:
            lines += status_function_lines(row)
        elif row.drift is not None:
            lines.append(f"{'':<12} DRIFT: {row.drift.detail}")
        for dep in flights[row.env]:
            stale = (
                " — its process is gone; the next command on this env resolves it"
                if row.lock is None or row.lock.get("stale")
                else ""
            )
            lines.append(f"{'':<12} in flight: {dep['id']} {dep['state']}{stale}")
            if dep["traffic"] is not None:
                lines.append(f"{'':<12} {status.shift_line(dep, row.weights)}")
        for req in row.approvals:
            missing = "; ".join(req["missing"]) or "ready to deploy"
            lines.append(
                f"{'':<12} approval {req['id']} for {req['digest'][:12]}: "
                f"{req['state']} — {missing}"
            )
        if row.lock:
            lines.append(
                f"{'':<12} locked by {row.lock['holder']} "
                f"({row.lock['deployment_id']}) since {row.lock['since']}"
            )
    environments = {row.env: {**row.to_json(), "in_flight": flights[row.env]} for row in rows}
    # Which audit key this run signs with (its id, never the key); null: the ledger is only as
    # trustworthy as its permissions.
    audit = {"key_id": key}
    return Outcome(data={"environments": environments, "audit": audit}, text="\n".join(lines))


def status_function_lines(row: EnvStatus) -> list[str]:
    """Each function of a many-function release under its environment's line (DESIGN §11.4)."""
    if not row.functions:
        return []
    width = max(len(name) for name in row.functions)
    lines = []
    for name, fn in row.functions.items():
        live = f"version {fn.version} ({(fn.digest or '')[:12]})" if fn.version else "nothing"
        lines.append(f"{'':<12} {name:<{width}}  {fn.function_name}  {live}")
        if fn.drift is not None:
            lines.append(f"{'':<12} {'':<{width}}  DRIFT: {fn.drift.detail}")
    return lines


@command("history")
@click.argument("env", required=False)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, None))
def history_command(inv: Invocation, env: str | None, limit: int) -> Outcome:
    """Past deployments and rollbacks, newest first."""
    from lambda_promote.config.lookup import require_env
    from lambda_promote.output import function_lines, iso

    ws = inv.workspace()
    if env:
        require_env(ws.config, env)
    deps = ws.ledger.deployments(env, limit=limit)
    lines = []
    for d in deps:
        lines.append(
            f"{d.id}  {iso(d.created_at)}  {d.env:<11} {d.kind.value:<8} {d.state.value:<15} "
            f"v{d.previous_version or '-'}→v{d.version or '-'}  {d.short_digest}  {d.actor}"
        )
        lines += [f"    {line}" for line in function_lines(d)]
    return Outcome(data={"deployments": deps}, text="\n".join(lines) or "no deployments yet")


@command("show")
@click.argument("deployment_id", metavar="DEPLOYMENT")
def show_command(inv: Invocation, deployment_id: str) -> Outcome:
    """One deployment: its transitions, checks (with logs) and rollback."""
    from lambda_promote import status
    from lambda_promote.output import deployment_lines

    dep = status.show(inv.workspace(), deployment_id)
    return Outcome(data={"deployment": dep}, text="\n".join(deployment_lines(dep)))


@command("unlock")
@click.argument("env")
@click.option("--id", "deployment_id", required=True, help="The deployment holding the lock.")
def unlock_command(inv: Invocation, env: str, deployment_id: str) -> Outcome:
    """Break a stale lock on ENV (recorded)."""
    from lambda_promote import status

    return Outcome(data={"unlocked": status.unlock(inv.workspace(), env, deployment_id)})


@command("demo")
@click.option("--keep", type=click.Path(path_type=Path, file_okay=False), help="Use this folder.")
def demo_command(inv: Invocation, keep: Path | None) -> Outcome:
    """The whole story on the local target in a temporary folder; no AWS needed."""
    from lambda_promote.demo import run_demo

    steps, folder = run_demo(inv.ui, keep=keep)
    state = folder / ".lambda-promote"
    inv.ui.ok(f"all {len(steps)} steps behaved as expected")
    inv.ui.detail(f"project:  {folder}")
    inv.ui.detail(f"ledger:   {state / 'state.db'}  (try: cd {folder} && lambda-promote history)")
    inv.ui.detail(f"reports:  {state / 'reports'}")
    return Outcome(data={"steps": steps, "folder": str(folder)})
