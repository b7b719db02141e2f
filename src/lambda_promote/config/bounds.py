"""Step 0 of loading promote.yaml: refuse a document too big to build, before building it.

A pull request's promote.yaml is read in CI, so the file is input from whoever opened it.
YAML lets a few hundred bytes stand for billions of values: each alias (``*name``) repeats
the whole node its anchor (``&name``) marks, and anchors may alias earlier anchors ("billion
laughs"). Deep nesting overflows the recursion of the node builder (and of PyYAML's
pure-Python composer). So before ``yamlsource`` composes anything, ``check_bounds`` walks the
parser's events — a flat stream in which an alias is one event, whatever it stands for — and
works out, per anchor, how many values and levels it expands to. The first event that takes
the document past a bound is refused at its line, at a cost linear in the file's length.

The bounds sit far above any real promote.yaml (the largest example has a few hundred values
and eight levels) and far below what would cost a runner noticeable time or memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from lambda_promote.errors import ConfigError

MAX_DOCUMENT_BYTES = 1_000_000
MAX_VALUES = 20_000  # every scalar, list and mapping, counted once per alias that repeats it
MAX_DEPTH = 50  # levels of lists and mappings, through aliases too

_BOUNDS_HINT = (
    "promote.yaml is limited to {size} MB, {values:,} values and {depth} levels of nesting, "
    "counting what every alias (*name) repeats of its anchor (&name); share a few settings "
    "with anchors, never whole trees of aliases of aliases"
)


@dataclass
class _Open:
    """A list or mapping whose end event has not come yet."""

    anchor: str | None
    values: int = 1  # itself, plus everything inside it once expanded
    height: int = 1  # levels from itself down to its deepest value


class _Walk:
    """The running count over one document's events."""

    def __init__(self, display: str) -> None:
        self.display = display
        self.total = 0
        self.open: list[_Open] = []
        self.anchors: dict[str, tuple[int, int]] = {}  # anchor → (values, height)

    def event(self, event: yaml.Event) -> None:
        if isinstance(event, yaml.AliasEvent):
            # An alias inside its own anchor (recursion) or to an unknown anchor counts as one
            # value here; ``yamlsource`` reports both properly.
            values, height = self.anchors.get(event.anchor or "", (1, 0))
            self._count(event, values=values, depth=len(self.open) + height, alias=event.anchor)
            self._add(values, height)
        elif isinstance(event, yaml.ScalarEvent):
            self._count(event, values=1, depth=len(self.open))
            self._close(1, 0, anchor=event.anchor)
        elif isinstance(event, yaml.CollectionStartEvent):
            self._count(event, values=1, depth=len(self.open) + 1)
            self.open.append(_Open(event.anchor))
        elif isinstance(event, yaml.CollectionEndEvent):
            done = self.open.pop()
            self._close(done.values, done.height, anchor=done.anchor)

    def _count(
        self, event: yaml.Event, *, values: int, depth: int, alias: str | None = None
    ) -> None:
        """Count ``values`` more, reaching ``depth``; refuse ``event`` when past a bound."""
        self.total += values
        if depth > MAX_DEPTH:
            self._refuse(event, f"nested more than {MAX_DEPTH} levels deep", alias=alias)
        if self.total > MAX_VALUES:
            self._refuse(event, f"the document holds more than {MAX_VALUES:,} values", alias=alias)

    def _close(self, values: int, height: int, *, anchor: str | None) -> None:
        """A complete value: remember its size under its anchor, add it to its parent."""
        if anchor is not None:
            self.anchors[anchor] = (values, height)
        self._add(values, height)

    def _add(self, values: int, height: int) -> None:
        if self.open:
            parent = self.open[-1]
            parent.values += values
            parent.height = max(parent.height, height + 1)

    def _refuse(self, event: yaml.Event, what: str, *, alias: str | None) -> None:
        mark = event.start_mark
        where = f"{self.display}:{mark.line + 1}:{mark.column + 1}" if mark else self.display
        through = f" once the alias *{alias} is expanded" if alias else ""
        raise ConfigError(f"{where}: {what}{through}", hint=_hint())


def check_bounds(text: str, display: str, *, loader: type[yaml.SafeLoader]) -> None:
    """``ConfigError`` at the first line where ``text`` passes a bound; YAML syntax errors
    propagate as PyYAML raises them."""
    check_size(text.encode("utf-8", "surrogatepass"), display)
    walk = _Walk(display)
    for event in yaml.parse(text, Loader=loader):
        walk.event(event)


def check_size(data: bytes, display: str) -> None:
    """``ConfigError`` when ``data`` (the file, or its first ``MAX_DOCUMENT_BYTES + 1``
    bytes) is more than promote.yaml may be."""
    if len(data) > MAX_DOCUMENT_BYTES:
        line = data.count(b"\n", 0, MAX_DOCUMENT_BYTES) + 1
        raise ConfigError(
            f"{display}:{line}: the file is larger than {MAX_DOCUMENT_BYTES / 1e6:.0f} MB, "
            "the most promote.yaml may be (the limit is passed on this line)",
            hint=_hint(),
        )


def _hint() -> str:
    return _BOUNDS_HINT.format(
        size=f"{MAX_DOCUMENT_BYTES / 1e6:.0f}", values=MAX_VALUES, depth=MAX_DEPTH
    )
