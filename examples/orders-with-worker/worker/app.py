"""The orders worker: processes the queue's records (and answers a ping)."""


def handler(event, context):
    if event.get("action") == "ping":
        return {"ok": True, "function": "worker"}
    records = event.get("Records") or []
    return {"ok": True, "processed": len(records)}
