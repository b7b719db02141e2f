"""GitHub Actions, the place most users run lambda-promote (DESIGN §10).

    workflow.py      promote.yaml → the seed's job graph as data → promote.yml (yamlout.py)
    pipeline.py      which jobs exist, in which order, and when each runs (pure)
    jobs.py/steps.py the jobs and steps of that graph, hardened as DESIGN §10 lists
    api.py           a tiny REST client (urllib; GITHUB_API_URL, GITHUB_TOKEN)
    environments.py  plan → apply → read back the GitHub environments the workflow uses
    approvals.py     a run's approvals → ``ApprovalDecision`` objects (source="github")
    leftovers.py     what the rollback jobs do: resolve what a dead deploy job left

Only ``api.py`` talks to the network; everything else is data in, data out.
"""
