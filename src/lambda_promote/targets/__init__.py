"""Targets run functions: the embedded local emulator or AWS Lambda (DESIGN §6)."""

from __future__ import annotations

import importlib.util

from lambda_promote.errors import UsageError


def require_boto3(*, needed_for: str) -> None:
    """A clear error, instead of an ImportError, for an AWS feature on an install without
    the ``aws`` extra (boto3 itself is imported only in ``targets/aws.py``)."""
    if importlib.util.find_spec("boto3") is None:
        raise UsageError(
            f"{needed_for} needs boto3, which is not installed",
            hint="install the AWS extra: pip install 'lambda-promote[aws]'",
        )
