"""A reviewer's decision made in the browser or through ``POST /api/approvals/{id}/decision``
(DESIGN §11.7). The gate's rules are not repeated here: ``promotion.decide`` — the function
``lambda-promote approve``/``reject`` call — applies them (reviewer list, self-review, quorum,
expiry), acting as the signed-in user and recording the decision ``via: web`` with the issuer
and subject that proved it, in the ledger and in the audit trail.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lambda_promote.errors import GateBlocked, LedgerError, UsageError
from lambda_promote.web.security import HttpProblem

if TYPE_CHECKING:
    from lambda_promote.web.context import WebContext
    from lambda_promote.web.reads import RequestView
    from lambda_promote.web.security import SignedIn

DECISIONS = {"approve": True, "reject": False}
MAX_COMMENT = 2000


def decide(
    ctx: WebContext, who: SignedIn, request_id: str, *, decision: object, comment: object
) -> RequestView:
    from lambda_promote import promotion
    from lambda_promote.web import reads

    if not ctx.can_decide:
        raise HttpProblem(403, "this dashboard is read-only (no server.oidc)", code="read_only")
    if decision not in DECISIONS:
        raise HttpProblem(400, 'decision must be "approve" or "reject"', code="bad_request")
    if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
        raise HttpProblem(
            400, f"comment must be text of at most {MAX_COMMENT} characters", code="bad_request"
        )
    view = reads.approval(ctx, request_id)  # 404 for an unknown id, before any rule
    ws = ctx.workspace(actor=who.user)
    identity = promotion.ProvenIdentity(issuer=who.issuer, subject=who.subject)
    try:
        request, verdict = promotion.decide(
            ws,
            view.request.id,
            view.request.env,
            approve=DECISIONS[str(decision)],
            comment=comment,
            identity=identity,
        )
    except (GateBlocked, UsageError) as refused:
        # The gate's rules said no (self-review, not a reviewer, decided already, expired…).
        raise HttpProblem(403, refused.message, code=refused.code, hint=refused.hint) from None
    except LedgerError as raced:  # another decision closed the request a moment before
        raise HttpProblem(409, raced.message, code="conflict", hint=raced.hint) from None
    return reads.RequestView(request, verdict)
