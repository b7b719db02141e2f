"""The benchmark's sample function: a token-checking order endpoint that uses requests,
pydantic, PyJWT and orjson, so every build installs real wheels (two with compiled code).

It never touches the network: ``requests`` only prepares the call it would make.
"""

from __future__ import annotations

import os
from typing import Any

import jwt
import orjson
import requests
from pydantic import BaseModel, Field

SECRET = os.environ.get("SAMPLE_SECRET", "bench-secret")
UPSTREAM = os.environ.get("SAMPLE_UPSTREAM", "https://orders.example.com/v1/orders")
REVISION = "r1"  # bench/run.py edits this line for the source-only rebuild


class Order(BaseModel):
    order_id: str = Field(min_length=1)
    quantity: int = Field(gt=0)
    customer: str


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("action") == "ping":
        return {"ok": True, "revision": REVISION}
    claims = jwt.decode(event["token"], SECRET, algorithms=["HS256"])
    order = Order.model_validate(event["order"])
    upstream = requests.Request(
        "POST",
        UPSTREAM,
        data=orjson.dumps(order.model_dump()),
        headers={"Authorization": f"Bearer {event['token']}"},
    ).prepare()
    body = {"ok": True, "user": claims.get("sub"), "forward": upstream.url, "order": order}
    return {"statusCode": 200, "body": orjson.dumps(body, default=dict).decode()}
