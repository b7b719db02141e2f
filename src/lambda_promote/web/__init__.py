"""``lambda-promote serve`` (DESIGN §11.7): the dashboard over the ledger, and approvals
decided by a proven identity. The one web adapter (STYLE §1): it reads through the same
service functions the CLI calls (``status``, ``reports``, ``gate``, ``promotion.decide``) and
adds only what a browser needs.

    context.py    the served project: config, one shared ledger and target, the OIDC client
    oidc.py       OpenID Connect: PKCE, state, nonce, the ID token checked against the JWKS
    security.py   session, CSRF, security headers, bounded request bodies
    reads.py      what the pages and /api/ show, assembled from the ledger (bounded queries)
    deciding.py   a reviewer's decision, through ``promotion.decide`` (the CLI's rules)
    render.py     templates, JSON answers, and errors → HTTP statuses (never a traceback)
    pages.py      HTML pages (Jinja2 templates; work with JavaScript off, polled when on)
    api.py        JSON under /api/, mirroring ``--json``
    auth.py       /login, /auth/callback, /logout
    app.py        the Starlette application: routes, error pages, middleware

Starlette, Jinja2, uvicorn, httpx and joserfc come with the optional extra ``web``; nothing
here is imported unless ``serve`` runs.
"""
