"""The project's structure rules, checked on its source (ast, not grep): every write goes through
`pipeline.fs`, and no module shadows the standard library.

A write outside the layer is one of: `open()` in a writing mode, `os.replace` / `os.rename`,
`shutil` copies and moves, `Path.write_text` / `write_bytes`, `tempfile.mkstemp`, `os.makedirs` /
`Path.mkdir`, `pyarrow.parquet.write_table`. The few left are listed in ALLOWED with the reason:
files on the local disk handed to a library that wants a file name, never run-folder outputs.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("pipeline", "jobs")
WRITE_CALLS = {
    ("os", "replace"), ("os", "rename"), ("os", "makedirs"), ("shutil", "copyfile"), ("shutil", "copy"),
    ("shutil", "copy2"), ("shutil", "copytree"), ("shutil", "move"), ("tempfile", "mkstemp"),
    ("pq", "write_table"), ("torch", "save"),
}
WRITE_METHODS = {"write_text", "write_bytes", "mkdir"}

# (file, enclosing function) -> why it may write without the layer.
ALLOWED = {
    ("pipeline/fs.py", "*"): "the layer itself",
    ("pipeline/spark.py", "parquet_bytes"): "serialises a table into memory (a BufferOutputStream), no file",
    ("pipeline/spark.py", "package_zip"): "the zip shipped to executors: a local temp file for addPyFile",
    ("pipeline/spark.py", "ship_as"): "a local staging copy for addFile (Spark serves it to executors)",
    ("pipeline/classify.py", "train_examples"): "fastText's training text: a local temp file it reads",
    ("pipeline/classify.py", "_write_examples"): "fastText's training text: a local temp file it reads",
    ("pipeline/extract.py", "*"): "the extraction child's pipes (no file written)",
    ("pipeline/train/*", "*"): "the training stage writes local checkpoints (torch, Hugging Face save_pretrained)",
    ("jobs/train.py", "*"): "the training stage's local output folder",
    ("jobs/annotate.py", "_lint_errors"): "a local temp copy of url_patterns/ with a candidate line, for the linter",
}


def _writes(path: Path) -> list[tuple[str, int, str]]:
    """(enclosing function, line, call) of every write-like call in a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, int, str]] = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
            if isinstance(child, ast.Call):
                func = child.func
                if isinstance(func, ast.Name) and func.id == "open":
                    mode = child.args[1] if len(child.args) > 1 else next(
                        (k.value for k in child.keywords if k.arg == "mode"), None)
                    if isinstance(mode, ast.Constant) and any(c in str(mode.value) for c in "wax+"):
                        found.append((function, child.lineno, f"open(..., {mode.value!r})"))
                elif isinstance(func, ast.Attribute):
                    # `store.write_text`, `self.store.write_text`, `ws.store.write_text`: the layer
                    value = func.value
                    owner = value.id if isinstance(value, ast.Name) else (
                        value.attr if isinstance(value, ast.Attribute) else "")
                    if (owner, func.attr) in WRITE_CALLS:
                        found.append((function, child.lineno, f"{owner}.{func.attr}"))
                    elif func.attr in WRITE_METHODS and owner not in ("store", "self"):
                        found.append((function, child.lineno, f".{func.attr}"))
            visit(child, name)

    visit(tree, "<module>")
    return found


def _allowed(rel: str, function: str) -> bool:
    for (file, where), _ in ALLOWED.items():
        matches_file = rel == file or (file.endswith("/*") and rel.startswith(file[:-1]))
        if matches_file and where in ("*", function):
            return True
    return False


def test_every_write_goes_through_the_filesystem_layer() -> None:
    outside = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            outside += [f"{rel}:{line} in {function}(): {call}" for function, line, call in _writes(path)
                        if not _allowed(rel, function)]
    assert outside == [], "writes outside pipeline.fs:\n" + "\n".join(outside)


def test_the_check_sees_a_write() -> None:
    """The scan must be able to fail: a module with each kind of write is caught."""
    probe = ROOT / "tests" / "fixtures_layout_probe.py"
    probe.write_text("import os, shutil\nfrom pathlib import Path\n\ndef f(p):\n    open(p, 'w')\n"
                     "    os.replace(p, p)\n    shutil.copyfile(p, p)\n    Path(p).write_text('x')\n",
                     encoding="utf-8")
    try:
        calls = [call for _, _, call in _writes(probe)]
    finally:
        probe.unlink()
    assert calls == ["open(..., 'w')", "os.replace", "shutil.copyfile", ".write_text"]


def test_no_module_shadows_the_standard_library() -> None:
    """A module of `jobs/` named like a stdlib one (jobs/tokenize.py once) breaks `spark-submit
    jobs/cli.py`: the script's folder comes first on sys.path. (`pipeline/` is never a script's
    folder, so `pipeline.tokenize` is only ever imported by its full name.)"""
    clash = [p.relative_to(ROOT).as_posix() for p in (ROOT / "jobs").glob("*.py")
             if p.stem in sys.stdlib_module_names]
    assert clash == []
