"""Checks that every Python script given compiles and that each module it imports resolves.

    python3 tools/check_scripts.py FILE...

A module resolves when it is in the standard library, is a distribution pinned in a
tools/requirements-*.txt (its import name), or is a local file: a ``NAME.py`` (or package) in the
script's own folder or in a folder the script puts on ``sys.path`` (its ``sys.path.insert`` /
``append`` calls are evaluated with ``__file__`` set to the script). Nothing is imported or run,
so the check needs none of the pinned packages. Prints one line per problem; exits 1 if any.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Import names that differ from the distribution's name in the requirements files.
IMPORT_NAMES = {"faker": "faker", "sentence-transformers": "sentence_transformers",
                "huggingface-hub": "huggingface_hub", "huggingface_hub": "huggingface_hub",
                "optimum": "optimum"}


def pinned_modules() -> set[str]:
    names = set()
    for req in ROOT.glob("tools/requirements-*.txt"):
        for line in req.read_text().splitlines():
            line = line.split("#")[0].strip()
            if not line:
                continue
            dist = line.split("==")[0].split("[")[0].strip().lower()
            names.add(IMPORT_NAMES.get(dist, dist.replace("-", "_")))
    return names


def path_dirs(tree: ast.AST, script: Path) -> list[Path]:
    """The folders the script adds to sys.path, by evaluating each insert/append argument."""
    dirs = [script.parent]
    env = {"Path": Path, "str": str, "__file__": str(script), "ROOT": ROOT}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("insert", "append")
                and ast.unparse(node.func.value) == "sys.path" and node.args):
            arg = node.args[-1]
            try:
                dirs.append(Path(eval(compile(ast.Expression(arg), str(script), "eval"), env)))
            except Exception as err:  # noqa: BLE001
                raise SystemExit(f"{script}: cannot evaluate sys.path entry {ast.unparse(arg)}: {err}")
    return dirs


def check(script: Path, pinned: set[str]) -> list[str]:
    source = script.read_text()
    try:
        tree = ast.parse(source, str(script))
        compile(tree, str(script), "exec")
    except SyntaxError as err:
        return [f"{script}:{err.lineno}: does not compile: {err.msg}"]
    dirs = path_dirs(tree, script)
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:
            continue
        for module in modules:
            top = module.split(".")[0]
            if top in sys.stdlib_module_names or top == "__future__" or top in pinned:
                continue
            if any((d / f"{top}.py").is_file() or (d / top / "__init__.py").is_file() for d in dirs):
                continue
            looked = ", ".join(str(d.relative_to(ROOT)) if d.is_relative_to(ROOT) else str(d) for d in dirs)
            problems.append(f"{script.relative_to(ROOT)}:{node.lineno}: import {module}: not the "
                            f"standard library, not pinned in tools/requirements-*.txt, and no "
                            f"{top}.py in {looked}")
    return problems


def main() -> int:
    pinned = pinned_modules()
    problems = [p for arg in sys.argv[1:] for p in check(Path(arg).resolve(), pinned)]
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
