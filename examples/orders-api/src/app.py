"""The example function: a tiny orders API behind one Lambda alias.

``{"action": "ping"}`` answers ``{"ok": true}`` (the health check every deployment and every
rollback runs); ``{"action": "create", "order": {...}}`` validates an order and answers as
the real service would, without storing anything.
"""

from __future__ import annotations

import json
import os
from typing import Any

RELEASE = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    action = event.get("action")
    if action == "ping":
        return {"ok": True, "version": RELEASE}
    if action == "create":
        return create_order(event.get("order") or {})
    return {"ok": False, "error": f"unknown action {json.dumps(action)}"}


def create_order(order: dict[str, Any]) -> dict[str, Any]:
    sku = order.get("sku")
    quantity = order.get("quantity")
    if not isinstance(sku, str) or not sku:
        return {"ok": False, "error": "order.sku must be a non-empty string"}
    if not isinstance(quantity, int) or quantity < 1:
        return {"ok": False, "error": "order.quantity must be a positive integer"}
    return {"ok": True, "status": "created", "order": {"sku": sku, "quantity": quantity}}
