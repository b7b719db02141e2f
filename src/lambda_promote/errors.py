"""Errors for people, and the one place that maps them to exit codes (DESIGN §4).

Every failure a user can meet is a ``PromoteError`` carrying a ``message`` (what happened),
a ``hint`` (what to do) and a stable machine ``code`` for ``--json``. Code below the CLI raises
these; only ``cli.py`` turns them into output and an exit code, through ``exit_code_for``.

    PromoteError                       exit 1  the operation failed, nothing was changed
    ├── UsageError                     exit 2  bad arguments
    ├── ConfigError                    exit 2  promote.yaml is wrong (carries file:line)
    ├── BuildError                     exit 1
    ├── ArtifactError                  exit 1  missing or corrupt artifact
    ├── TargetError                    exit 1  the target (local emulator, AWS) refused a call
    │   └── ConflictError              exit 1  someone else changed the alias under us
    ├── LedgerError                    exit 1
    ├── DeploymentRolledBack           exit 3  failed, rolled back and verified
    ├── RollbackFailed                 exit 4  the environment needs a person
    ├── AuthenticationError            exit 1  ``serve``: the OIDC login or its token failed
    ├── GateBlocked                    exit 5  approval, wait timer, source or branch rule
    └── EnvironmentLocked              exit 6  another deployment holds the environment
"""

from __future__ import annotations

from typing import Any


class PromoteError(Exception):
    """Base of every error a user may see. ``payload`` adds keys to the ``--json`` object."""

    code = "failed"

    def __init__(
        self,
        message: str,
        *,
        hint: str = "",
        code: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if code is not None:
            self.code = code
        self.payload: dict[str, Any] = payload or {}

    def __str__(self) -> str:
        return self.message


class UsageError(PromoteError):
    code = "usage"


class ConfigError(PromoteError):
    """A problem in promote.yaml; ``message`` already starts with ``file:line:`` when known."""

    code = "config"


class BuildError(PromoteError):
    code = "build_failed"


class ArtifactError(PromoteError):
    code = "artifact"


class TargetError(PromoteError):
    code = "target"


class ConflictError(TargetError):
    code = "conflict"


class LedgerError(PromoteError):
    code = "ledger"


class DeploymentRolledBack(PromoteError):
    code = "rolled_back"


class RollbackFailed(PromoteError):
    code = "rollback_failed"


class AuthenticationError(PromoteError):
    """``serve`` could not prove who is there (DESIGN §11.7): a refused login, a state or
    nonce that does not match, an ID token whose signature or claims do not check out."""

    code = "unauthenticated"


class GateBlocked(PromoteError):
    code = "gate_blocked"


class EnvironmentLocked(PromoteError):
    code = "locked"


# The only mapping from error classes to exit codes. Order matters: most specific first.
_EXIT_CODES: tuple[tuple[type[PromoteError], int], ...] = (
    (UsageError, 2),
    (ConfigError, 2),
    (DeploymentRolledBack, 3),
    (RollbackFailed, 4),
    (GateBlocked, 5),
    (EnvironmentLocked, 6),
    (PromoteError, 1),
)


def exit_code_for(error: BaseException) -> int:
    """The documented exit code for ``error``; anything unexpected is 1."""
    for cls, exit_code in _EXIT_CODES:
        if isinstance(error, cls):
            return exit_code
    return 1
