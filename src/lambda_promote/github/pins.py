"""The third-party actions the generated workflow uses, pinned to full commit SHAs
(DESIGN §10): a tag can be moved to other code, a commit cannot. The ``# vX.Y.Z`` comment
written beside each pin says which release the commit is, for people and for Dependabot.

To move to a newer release, change the SHA and the version here together, regenerate, and
let CI's ``lambda-promote github workflow --check`` and the golden files show the change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Pin:
    repository: str
    sha: str
    version: str

    @property
    def uses(self) -> str:
        return f"{self.repository}@{self.sha}"


CHECKOUT = Pin("actions/checkout", "11bd71901bbe5b1630ceea73d27597364c9af683", "v4.2.2")
SETUP_PYTHON = Pin("actions/setup-python", "a26af69be951a213d495a4c3e4e4022e16d87065", "v5.6.0")
UPLOAD_ARTIFACT = Pin(
    "actions/upload-artifact", "ea165f8d65b6e75b540449e92b4886f43607fa02", "v4.6.2"
)
DOWNLOAD_ARTIFACT = Pin(
    "actions/download-artifact", "d3f86a106a0bac45b974a628896c90dbdf5c8093", "v4.3.0"
)
AWS_CREDENTIALS = Pin(
    "aws-actions/configure-aws-credentials", "b47578312673ae6fa5b5096b330d9fbac3d116df", "v4.2.1"
)

ALL = (CHECKOUT, SETUP_PYTHON, UPLOAD_ARTIFACT, DOWNLOAD_ARTIFACT, AWS_CREDENTIALS)


_USES = re.compile(
    r"^(?P<lead>[ \t]*(?:-[ \t]+)?uses:[ \t]+)(?P<repo>[\w.-]+/[\w.-]+)@(?P<sha>[0-9a-f]{40})"
    r"(?P<gap>[ \t]+#[ \t]+)(?P<version>v\d+(?:\.\d+)*)[ \t]*$",
    re.MULTILINE,
)


def pins_in(text: str) -> dict[str, Pin]:
    """The pins a workflow file holds: each action's full SHA with its release comment."""
    return {m["repo"]: Pin(m["repo"], m["sha"], m["version"]) for m in _USES.finditer(text or "")}


def carry_over(generated: str, on_disk: str) -> str:
    """``generated`` with the pins ``on_disk`` holds for the same actions. Dependabot moves
    a pin in the committed file (a full SHA and its release comment, never a tag); keeping it
    means regenerating neither undoes the update nor makes ``--check`` fail over it."""
    kept = pins_in(on_disk)

    def swap(m: re.Match[str]) -> str:
        pin = kept.get(m["repo"])
        if pin is None:
            return m.group(0)
        return f"{m['lead']}{pin.uses}{m['gap']}{pin.version}"

    return _USES.sub(swap, generated)
