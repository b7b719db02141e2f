"""The baseline of the deploy benchmark: DESIGN §6's call sequence written straight in boto3,
as a team without a tool would script it. Run as its own process (like our CLI), against
whatever ``AWS_ENDPOINT_URL`` names:

    raw_boto3.py deploy FUNCTION ALIAS ZIP     get_alias → get_function_configuration (the
                                               RevisionId guard) → update_function_code →
                                               waiter function_updated_v2 → publish_version
                                               (CodeSha256) → update_alias / create_alias
    raw_boto3.py rollback FUNCTION ALIAS VERSION   one update_alias

It runs no checks and records nothing: that is the point of the comparison.
"""

from __future__ import annotations

import base64
import hashlib
import sys
from pathlib import Path

import boto3


def deploy(function: str, alias: str, zip_path: str) -> str:
    client = boto3.client("lambda")
    data = Path(zip_path).read_bytes()
    try:
        current = client.get_alias(FunctionName=function, Name=alias)
    except client.exceptions.ResourceNotFoundException:
        current = None
    latest = client.get_function_configuration(FunctionName=function)
    # moto leaves RevisionId out of some answers; real Lambda always gives one.
    guard = {"RevisionId": latest["RevisionId"]} if latest.get("RevisionId") else {}
    client.update_function_code(FunctionName=function, ZipFile=data, **guard)
    client.get_waiter("function_updated_v2").wait(
        FunctionName=function, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    sha = base64.b64encode(hashlib.sha256(data).digest()).decode()
    version = client.publish_version(FunctionName=function, CodeSha256=sha)["Version"]
    if current is None:
        client.create_alias(FunctionName=function, Name=alias, FunctionVersion=version)
    else:
        guard = {"RevisionId": current["RevisionId"]} if current.get("RevisionId") else {}
        client.update_alias(FunctionName=function, Name=alias, FunctionVersion=version, **guard)
    return str(version)


def rollback(function: str, alias: str, version: str) -> str:
    boto3.client("lambda").update_alias(FunctionName=function, Name=alias, FunctionVersion=version)
    return version


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    action = {"deploy": deploy, "rollback": rollback}[command]
    print(action(*args))
