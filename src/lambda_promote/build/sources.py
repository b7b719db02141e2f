"""Which files go into the zip: the function's source after excludes, and the installed
dependencies without the installer's machine-specific bookkeeping.

Both walks return ``ZipEntry`` values with the path the file will have inside the zip
(forward slashes, NFC-normalised so macOS and Linux name a file alike) and its executable bit.
Nothing about the build machine (mtimes, owners, umask) survives this step.
"""

from __future__ import annotations

import os
import re
import stat
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from lambda_promote.errors import BuildError, ConfigError

# Never part of a function: caches, VCS data, virtualenvs and the tool's own folder.
DEFAULT_SOURCE_EXCLUDES = (
    "__pycache__",
    "*.pyc",
    "*.pyo",
    ".git",
    ".hg",
    ".svn",
    ".lambda-promote",
    ".venv",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".DS_Store",
)

# What an installer leaves that differs between machines or is useless in Lambda:
# console scripts in bin/ carry the build machine's interpreter path in their shebang.
DEPENDENCY_EXCLUDES = (
    "__pycache__",
    "*.pyc",
    "/bin",
    "/.lock",
    "/*.dist-info/RECORD",
    "/*.dist-info/INSTALLER",
    "/*.dist-info/REQUESTED",
    "/*.dist-info/direct_url.json",
)


@dataclass(frozen=True)
class ZipEntry:
    """One file bound for the zip."""

    name: str  # path inside the zip, forward slashes
    path: Path  # where its bytes are now
    executable: bool


class ExcludeRules:
    """Glob patterns over paths relative to a folder, in the spirit of ``.gitignore``:

    - ``*``, ``?`` and ``[…]`` never cross a ``/``; ``**`` spans any number of folders;
    - a pattern without a ``/`` matches a name at any depth (``*.md``, ``__pycache__``);
    - a pattern with a ``/`` (or a leading one) is anchored at the folder (``tests/**``);
    - a pattern that matches a folder excludes everything inside it.
    """

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(p for p in (p.strip() for p in patterns) if p)
        self._regexes = tuple(_compile(p) for p in self.patterns)

    def excludes(self, relpath: str) -> bool:
        """True when ``relpath`` (forward slashes) or one of its parent folders matches."""
        parts = relpath.split("/")
        candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        return any(rx.fullmatch(c) for rx in self._regexes for c in candidates)


def _compile(pattern: str) -> re.Pattern[str]:
    anchored = "/" in pattern.rstrip("/")
    body = pattern.strip("/")
    segments = body.split("/") if anchored else ["**", body]
    regex = ""
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "**":
            regex += ".*" if last else "(?:[^/]+/)*"
        else:
            regex += _segment_regex(segment) + ("" if last else "/")
    return re.compile(regex)


def _segment_regex(segment: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(segment):
        char = segment[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and (end := segment.find("]", i + 2)) != -1:
            inner = segment[i + 1 : end]
            negated = inner.startswith("!")
            inner = re.escape(inner[1:] if negated else inner).replace(r"\-", "-")
            out.append(f"[{'^' if negated else ''}{inner}]")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def collect_source(
    source: Path, *, rules: ExcludeRules, never: Iterable[Path] = ()
) -> list[ZipEntry]:
    """The function's files under ``source``, sorted by zip name. ``never`` are absolute
    folders or files (the artifact store, the build cache, the state database) left out
    wherever they lie."""
    if not source.is_dir():
        raise BuildError(
            f"the function source folder {source} does not exist",
            hint="set 'function.source' in promote.yaml to the folder holding the handler",
        )
    skip = frozenset(p.resolve() for p in never)
    return sorted(_walk(source.resolve(), rules=rules, skip=skip), key=lambda e: e.name)


def collect_dependencies(folder: Path) -> list[ZipEntry]:
    """The installed dependency layer, without installer bookkeeping, sorted by zip name."""
    rules = ExcludeRules(DEPENDENCY_EXCLUDES)
    return sorted(_walk(folder, rules=rules), key=lambda e: e.name)


def _walk(
    root: Path, *, rules: ExcludeRules, skip: frozenset[Path] = frozenset()
) -> Iterator[ZipEntry]:
    root = root.resolve()
    seen: set[Path] = set()
    # Symlinked folders are followed (their files are zipped as files) while they stay inside
    # ``root``; a link leaving it is refused before anything behind it is read, and a loop too.
    for current, dirs, files in os.walk(root, followlinks=True):
        here = Path(current)
        real = here.resolve()
        if real in seen:
            raise BuildError(
                f"{here} links back into a folder already included (a symlink loop, or a "
                "second link to the same folder)",
                hint="remove the symlink or exclude it with 'function.exclude'",
            )
        seen.add(real)
        rel_dir = here.relative_to(root).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        dirs[:] = [
            d
            for d in sorted(dirs)
            if not rules.excludes(prefix + d) and here / d not in skip and _inside(here / d, root)
        ]
        for name in sorted(files):
            relpath = prefix + name
            if (
                not rules.excludes(relpath)
                and here / name not in skip
                and _inside(here / name, root)
            ):
                yield _entry(here / name, relpath)


def _inside(path: Path, root: Path) -> bool:
    """True for a plain file or folder, and for a link whose final target (through any chain
    of links) lies inside ``root``; ``ConfigError`` for a link that leaves it. Checked before
    the target is opened: a link to ~/.aws/credentials, /proc/self/environ, /dev/zero or a FIFO
    must neither reach the zip nor be read."""
    if not path.is_symlink():
        return True
    try:
        target = path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a loop of links, before Python 3.13
        raise BuildError(
            f"{path} is a symlink loop", hint="remove the symlink or exclude it"
        ) from None
    if target.is_relative_to(root):
        return True
    raise ConfigError(
        f"{path} is a symbolic link to {target}, outside the folder being zipped ({root}): "
        "refusing to zip what it points to",
        hint="copy the file into the source folder instead of linking to it, or leave the "
        "link out with 'function.exclude'",
    )


def _entry(path: Path, relpath: str) -> ZipEntry:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise BuildError(
            f"{path} is a broken symlink",
            hint="fix or remove it, or exclude it with 'function.exclude'",
        ) from None
    except OSError as exc:
        raise BuildError(
            f"cannot read {path}: {exc.strerror}",
            hint="fix or remove it, or exclude it with 'function.exclude'",
        ) from None
    if not stat.S_ISREG(mode):
        raise BuildError(
            f"{path} is not a regular file (a socket, device or pipe cannot be zipped)",
            hint="exclude it with 'function.exclude'",
        )
    name = unicodedata.normalize("NFC", relpath)
    return ZipEntry(name=name, path=path, executable=bool(mode & stat.S_IXUSR))


def handler_module_files(handler: str) -> tuple[str, str]:
    """The two zip names that can hold the module of ``handler`` (``pkg.mod.fn``)."""
    module = handler.rsplit(".", 1)[0].replace(".", "/")
    return (f"{module}.py", f"{module}/__init__.py")


def require_handler(entries: Iterable[ZipEntry], *, handler: str, source: Path) -> None:
    """Refuse a build whose source lacks the handler's module: Lambda would fail at the
    first invocation, long after the build looked fine."""
    names = {e.name for e in entries}
    candidates = handler_module_files(handler)
    if not names.intersection(candidates):
        raise BuildError(
            f"the handler {handler} needs {candidates[0]} (or {candidates[1]}) in {source}, "
            "and there is none",
            hint="fix 'function.handler' or 'function.source' in promote.yaml, or check that "
            "'function.exclude' does not drop the module",
        )


def check_no_clash(source: list[ZipEntry], deps: list[ZipEntry]) -> None:
    """Refuse a source file that would overwrite (or sit inside) an installed dependency:
    which one Lambda imports would depend on zip order, so neither is silently dropped."""
    dep_names = {e.name for e in deps}
    dep_dirs = {name.rsplit("/", 1)[0] for name in dep_names if "/" in name}
    dep_dirs |= {d.rsplit("/", i)[0] for d in dep_dirs for i in range(d.count("/") + 1)}
    for entry in source:
        if entry.name in dep_names or entry.name in dep_dirs:
            raise BuildError(
                f"the source file {entry.name} clashes with a file installed from the requirements",
                hint="rename it in the source, or drop the requirement that installs it",
            )
        parents = [entry.name.rsplit("/", i)[0] for i in range(1, entry.name.count("/") + 1)]
        if any(p in dep_names for p in parents):
            raise BuildError(
                f"the source folder of {entry.name} clashes with a file installed from the "
                "requirements",
                hint="rename it in the source, or drop the requirement that installs it",
            )
