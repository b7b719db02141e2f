"""The orders API: answers a ping and accepts an order (which the worker would process)."""

import json


def handler(event, context):
    action = event.get("action")
    if action == "ping":
        return {"ok": True, "function": "api"}
    if action == "create":
        order = event.get("order") or {}
        if not order.get("sku"):
            return {"ok": False, "error": "an order needs a sku"}
        return {"ok": True, "status": "created", "order": json.loads(json.dumps(order))}
    return {"ok": False, "error": f"unknown action {action!r}"}
