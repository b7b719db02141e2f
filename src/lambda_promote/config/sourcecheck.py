"""Step 4 of loading promote.yaml: does ``function:`` point at code that exists?

A handler typo otherwise surfaces only after a build, an upload and a failed health check;
here it is one line at ``validate``. Paths are relative to the folder holding promote.yaml.
The module is read with ``ast``, never imported: validating must not run user code.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path

from lambda_promote.config.problems import FieldPath, Problem, did_you_mean
from lambda_promote.config.schema import Config, Function
from lambda_promote.config.yamlsource import LocatedDocument


def check_function_source(config: Config, doc: LocatedDocument, root: Path) -> list[Problem]:
    """Problems with ``function.source``, ``function.handler`` and ``function.requirements``
    (of each function of ``functions:``)."""
    if config.functions is None:
        return _check_one(config.function, ("function",), doc, root)
    problems: list[Problem] = []
    for name, fn in config.functions.items():
        problems += _check_one(fn, ("functions", name), doc, root)
    return problems


def _check_one(fn: Function, where: FieldPath, doc: LocatedDocument, root: Path) -> list[Problem]:
    problems: list[Problem] = []

    def problem(key: str, text: str, hint: str) -> None:
        path = (*where, key)
        problems.append(Problem(doc.line_for(path), path, text, hint))

    for key, written in (("source", fn.source), ("requirements", fn.requirements)):
        if written is not None and not _inside_project(root / written, root):
            problem(
                key,
                f"'{written}' is outside the project's folder ({root}), directly or through "
                "a symbolic link",
                "keep the function's files inside the folder of promote.yaml: a build in CI "
                "must never read the rest of the runner",
            )
    if problems:
        return problems  # nothing outside the project is read, not even to check it
    if fn.requirements is not None and not _exists(root / fn.requirements, Path.is_file):
        problem(
            "requirements",
            f"file '{fn.requirements}' does not exist (looked in {root / fn.requirements})",
            "create it, or delete the requirements line if the function has no dependencies",
        )
    source = root / fn.source
    if not _exists(source, Path.is_dir):
        problem(
            "source",
            f"folder '{fn.source}' does not exist (looked in {source})",
            "create it with the handler's module, or point function.source at the folder "
            "that holds it (relative to the folder of promote.yaml)",
        )
        return problems
    module_name, _, function_name = fn.handler.rpartition(".")
    found = _handler_problem(source, module_name, function_name, fn.source)
    if found is not None:
        problem("handler", *found)
    return problems


def _exists(path: Path, test: Callable[[Path], bool]) -> bool:
    """``test(path)``; False for a name the file system refuses (too long, say): Python 3.11
    raises there rather than answering."""
    try:
        return test(path)
    except OSError:
        return False


def _inside_project(path: Path, root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a loop of links: the build reports it
        return True


def _handler_problem(
    source: Path, module_name: str, function_name: str, shown_source: str
) -> tuple[str, str] | None:
    module_file = _module_file(source, module_name)
    relative = Path(shown_source, *module_name.split("."))
    if module_file is None:
        return (
            f"module '{module_name}' not found: expected {relative}.py "
            f"(or {relative / '__init__.py'})",
            f"create {relative}.py with `def {function_name}(event, context): ...`, or fix "
            "function.handler (module.function, relative to function.source)",
        )
    shown_file = Path(shown_source, module_file.relative_to(source))
    try:
        tree = ast.parse(module_file.read_bytes(), filename=str(module_file))
    except SyntaxError as exc:
        where = f" (line {exc.lineno})" if exc.lineno else ""
        return (
            f"{shown_file} cannot be parsed: {exc.msg}{where}",
            "fix the syntax error; the function could not start on Lambda either",
        )
    except (ValueError, OSError) as exc:
        return f"cannot read {shown_file}: {exc}", "check the file's contents and permissions"
    names = set(_top_level_names(tree.body))
    if function_name in names or "*" in names or "__getattr__" in names:
        return None
    guess = did_you_mean(function_name, sorted(names))
    return (
        f"'{function_name}' is not defined at the top level of {shown_file}"
        + (f", did you mean '{guess}'?" if guess else ""),
        f"define `def {function_name}(event, context):` in {shown_file}, or fix the name "
        "after the last '.' of function.handler",
    )


def _module_file(source: Path, module_name: str) -> Path | None:
    base = source.joinpath(*module_name.split("."))
    for candidate in (base.with_name(base.name + ".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _top_level_names(body: list[ast.stmt]) -> Iterator[str]:
    """Names a module binds at import time, including inside top-level if/try/with blocks
    (``try: import x`` fallbacks); ``*`` stands for a star import, which may bind anything."""
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield node.name
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                yield from (n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                yield alias.asname or alias.name.split(".")[0]
        elif isinstance(node, ast.If | ast.With | ast.For | ast.While):
            yield from _top_level_names(node.body)
            yield from _top_level_names(getattr(node, "orelse", []))
        elif isinstance(node, ast.Try | ast.TryStar):
            for block in (node.body, node.orelse, node.finalbody):
                yield from _top_level_names(block)
            for handler in node.handlers:
                yield from _top_level_names(handler.body)
