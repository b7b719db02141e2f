"""Releases as plans: how ``deploy``, ``rollback``, ``run`` and the rollback jobs decide what
to do, in three stages (the shape of Chalice's ``deploy/``):

    gather.py    read the ledger, the store and the target once → frozen facts (models.py)
    plan.py      pure: ``plan_deploy``, ``plan_run``, the gate asked once (``gate_decision``)
    rollback.py  pure: every rollback rule — ``plan_rollback``, ``plan_recovery``,
                 ``plan_resolution``, where a failed deployment goes back to
    execute.py   carry a plan out through the state machine (deploy.py) and its journal,
                 ledger first, then the side effect (DESIGN §5.5)
    display.py   show the same plan instead (``--dry-run``)
    approvals.py the approval providers (builtin, github) behind one protocol
    flows.py     each command's stages wired together

Start at flows.py to follow a command; read plan.py and rollback.py for the rules.
"""
