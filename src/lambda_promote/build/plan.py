"""What a build needs from promote.yaml, as plain data.

The build works from a ``BuildPlan`` rather than the pydantic ``Config`` so that an unchanged
build can be answered from the plan the last build remembered (``stamp.py``) without loading
the schema at all — on a cache hit that is most of the process's time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lambda_promote.config.schema import Config


@dataclass(frozen=True)
class BuildPlan:
    config_path: Path  # absolute; relative paths below are relative to its folder
    source: str
    handler: str
    exclude: tuple[str, ...]
    requirements: str | None
    runtime: str
    architecture: str
    artifacts: str  # the store: a folder or an s3:// URL
    state: str  # the ledger URL, whose SQLite file must stay out of the zip
    secret_names: tuple[str, ...]  # variables holding notifier secrets, kept out of output

    @property
    def root(self) -> Path:
        return self.config_path.parent

    @classmethod
    def of(cls, config: Config) -> BuildPlan:
        from lambda_promote.notify.redact import secret_names

        fn = config.function
        return cls(
            config_path=config.path.absolute(),
            source=fn.source,
            handler=fn.handler,
            exclude=tuple(fn.exclude),
            requirements=fn.requirements,
            runtime=fn.runtime,
            architecture=fn.architecture,
            artifacts=config.artifacts,
            state=config.state,
            secret_names=tuple(secret_names(config.notifications)),
        )

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "config_path": str(self.config_path)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BuildPlan:
        """The plan ``to_json`` wrote; ``TypeError``/``KeyError``/``ValueError`` if ``data`` is
        not one (an old or damaged stamp)."""
        return cls(
            config_path=Path(data["config_path"]),
            source=str(data["source"]),
            handler=str(data["handler"]),
            exclude=tuple(str(e) for e in data["exclude"]),
            requirements=None if data["requirements"] is None else str(data["requirements"]),
            runtime=str(data["runtime"]),
            architecture=str(data["architecture"]),
            artifacts=str(data["artifacts"]),
            state=str(data["state"]),
            secret_names=tuple(str(n) for n in data["secret_names"]),
        )
