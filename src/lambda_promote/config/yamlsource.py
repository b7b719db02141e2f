"""Step 1 of loading promote.yaml: YAML text → plain data that remembers its line numbers.

PyYAML's composer keeps a line on every node; constructing objects throws them away and
silently keeps the last of two equal keys. So we compose the node tree and build the data
ourselves: every value and key gets its line recorded under its path
(``("environments", "production", "approval")`` → 21), and duplicate keys become problems.
Dates stay as the text written, because check payloads end up as JSON, which has no dates.

A pull request's promote.yaml is read in CI, so the document is bounded before anything is
built (``bounds.py``): its size, and the values and nesting depth it stands for once every alias
is expanded — a few hundred bytes of anchors can otherwise stand for billions of values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from lambda_promote.config.bounds import check_bounds
from lambda_promote.config.problems import FieldPath, Problem, shown
from lambda_promote.errors import ConfigError

# The C parser composes the same node tree, much faster; fall back when libyaml is absent.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"

_INIT_HINT = (
    "run `lambda-promote init` to write a commented promote.yaml "
    "(or `lambda-promote init --example` for a working example)"
)


@dataclass
class LocatedDocument:
    """The file's data plus where each part of it was written."""

    data: dict[str, Any]
    value_lines: dict[FieldPath, int] = field(default_factory=dict)
    key_lines: dict[FieldPath, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def line_for(self, path: FieldPath) -> int:
        """The line of ``path``'s key (or list item); for a path the file does not contain,
        the line of its closest written parent, else 1."""
        probe = tuple(path)
        while probe:
            line = self.key_lines.get(probe) or self.value_lines.get(probe)
            if line:
                return line
            probe = probe[:-1]
        return 1

    def has(self, path: FieldPath) -> bool:
        return tuple(path) in self.value_lines


def read_document(text: str, display: str) -> LocatedDocument:
    """Parse ``text``; syntax errors, an empty file or a non-mapping top level raise
    ``ConfigError`` at once, while duplicate keys are collected in ``problems``."""
    loader = _Loader(text)
    try:
        check_bounds(text, display, loader=_Loader)
        node = loader.get_single_node()
        if node is None:
            raise ConfigError(f"{display}: the file is empty (no settings found)", hint=_INIT_HINT)
        if not isinstance(node, yaml.MappingNode):
            kind = "a list" if isinstance(node, yaml.SequenceNode) else "a single value"
            raise ConfigError(
                f"{display}:{node.start_mark.line + 1}: expected a mapping of settings "
                f"(project:, function:, environments:, …) at the top level, got {kind}",
                hint=_INIT_HINT,
            )
        builder = _Builder(loader)
        data = builder.build(node, ())
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, display, text) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{display}: invalid YAML: {exc}", hint=_SYNTAX_HINT) from None
    finally:
        loader.dispose()
    return LocatedDocument(
        data=data,
        value_lines=builder.value_lines,
        key_lines=builder.key_lines,
        problems=builder.problems,
    )


_SYNTAX_HINT = (
    "check the indentation and quoting there; quote values that contain ': ' or start "
    "with one of { [ * & ! % @ `"
)


def _syntax_error(exc: yaml.MarkedYAMLError, display: str, text: str) -> ConfigError:
    mark = exc.problem_mark or exc.context_mark
    where = f"{display}:{mark.line + 1}:{mark.column + 1}" if mark else display
    what = exc.problem or exc.context or "unreadable"
    if exc.context and exc.problem and exc.context_mark:
        context_line = exc.context_mark.line + 1
        if what.startswith("but "):  # "expected a single document …, but found another"
            what = f"{exc.context} (line {context_line}), {what}"
        else:
            what = f"{what} ({exc.context} at line {context_line})"
    hint = _SYNTAX_HINT
    lines = text.splitlines()
    bad_line = lines[mark.line] if mark and mark.line < len(lines) else ""
    if "\t" in bad_line[: len(bad_line) - len(bad_line.lstrip())]:
        hint = "YAML indentation must use spaces, not tabs"
    elif "alias" in what:
        hint = "define the anchor (&name) before the alias (*name) that uses it"
    elif "single document" in what:
        hint = "promote.yaml holds one document: remove the extra '---' separator"
    return ConfigError(f"{where}: invalid YAML: {what}", hint=hint)


class _Builder:
    """Turns composed nodes into dicts, lists and scalars, recording lines as it goes."""

    def __init__(self, loader: yaml.SafeLoader) -> None:
        self._loader = loader
        self._open: set[int] = set()
        self.value_lines: dict[FieldPath, int] = {}
        self.key_lines: dict[FieldPath, int] = {}
        self.problems: list[Problem] = []

    def build(self, node: yaml.Node, path: FieldPath) -> Any:
        line = node.start_mark.line + 1
        self.value_lines[path] = line
        if id(node) in self._open:
            self._problem(line, path, "an alias refers to itself", "remove the recursive alias")
            return None
        self._open.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            if isinstance(node, yaml.SequenceNode):
                self._expect_tag(node, _SEQ_TAG, path)
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            return self._scalar(node, path)
        finally:
            self._open.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: FieldPath) -> dict[Any, Any]:
        self._expect_tag(node, _MAP_TAG, path)
        result: dict[Any, Any] = {}
        own: list[tuple[yaml.Node, yaml.Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                self._merge(result, value_node, path)
            else:
                own.append((key_node, value_node))
        first_line: dict[Any, int] = {}
        for key_node, value_node in own:
            key = self._key(key_node, path)
            if key is None:
                continue
            line = key_node.start_mark.line + 1
            if key in first_line:
                self._problem(
                    line,
                    path,
                    f"duplicate key {key!r} (first at line {first_line[key]})",
                    "YAML would silently keep only one of them: remove or merge the duplicate",
                )
                continue
            first_line[key] = line
            self.key_lines[(*path, key)] = line
            result[key] = self.build(value_node, (*path, key))
        self.value_lines[path] = node.start_mark.line + 1
        return result

    def _merge(self, into: dict[Any, Any], source: yaml.Node, path: FieldPath) -> None:
        """``<<: *defaults`` — keys written in the mapping itself win over merged ones, and
        among merged mappings the first listed wins (YAML's merge-key rules)."""
        sources = source.value if isinstance(source, yaml.SequenceNode) else [source]
        for item in sources:
            if id(item) in self._open:
                continue  # a mapping merging itself adds nothing
            if not isinstance(item, yaml.MappingNode):
                self._problem(
                    item.start_mark.line + 1,
                    path,
                    "'<<' merges a mapping (or a list of mappings) into this one",
                    "point '<<' at an anchored mapping, e.g. <<: *defaults",
                )
                continue
            for key, value in self._mapping(item, path).items():
                into.setdefault(key, value)

    def _key(self, node: yaml.Node, path: FieldPath) -> str | None:
        line = node.start_mark.line + 1
        key = self._scalar(node, path) if isinstance(node, yaml.ScalarNode) else node
        if isinstance(key, str):
            return key
        got = shown(key) if isinstance(node, yaml.ScalarNode) else "a collection"
        self._problem(
            line,
            path,
            f"keys must be text, got {got}",
            'quote the key, e.g. "on": … (YAML reads on/off/yes/no as true/false)',
        )
        return None

    def _scalar(self, node: yaml.Node, path: FieldPath) -> Any:
        if node.tag == _TIMESTAMP_TAG:
            return node.value
        try:
            return self._loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError) as exc:
            problem = getattr(exc, "problem", None) or str(exc)
            self._problem(
                node.start_mark.line + 1,
                path,
                f"cannot read this value: {problem}",
                "promote.yaml holds plain values: text, numbers, true/false, lists, mappings",
            )
            return None

    def _expect_tag(self, node: yaml.Node, tag: str, path: FieldPath) -> None:
        if node.tag != tag:
            self._problem(
                node.start_mark.line + 1,
                path,
                f"unsupported YAML tag {node.tag}",
                "promote.yaml holds plain values: text, numbers, true/false, lists, mappings",
            )

    def _problem(self, line: int, path: FieldPath, text: str, hint: str) -> None:
        self.problems.append(Problem(line=line, path=path, text=text, hint=hint))
