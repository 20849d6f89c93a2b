"""Reading a pipeline's code: from a file or module at registration, from the
store's snapshot (by hash) when a run executes, so a run always executes the
code it was started with, on any machine that shares the store.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import traceback
import types
from dataclasses import dataclass
from pathlib import Path

from shipyard.pipelines.definition import Pipeline, PipelineInvalid, resolve_types


@dataclass(frozen=True)
class PipelineCode:
    source: str  # "path/to/file.py" or "module:package.module"
    code: bytes
    package: str | None = None  # for modules: relative imports keep working

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.code).hexdigest()

    @property
    def folder(self) -> Path | None:
        """Where sibling modules are imported from, if that place exists here."""
        if self.source.startswith("module:"):
            return None
        return Path(self.source).resolve().parent


def read_code(source: str) -> PipelineCode:
    """``source`` is a ``.py`` file, or an importable module's dotted name."""
    path = Path(source)
    if source.endswith(".py") or path.exists():
        if not path.is_file():
            raise PipelineInvalid(f"pipeline file {source} does not exist")
        return PipelineCode(str(path.resolve()), path.read_bytes())
    try:
        spec = importlib.util.find_spec(source)
    except (ImportError, ValueError) as exc:
        raise PipelineInvalid(f"cannot find pipeline module {source!r}: {exc}") from None
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        raise PipelineInvalid(f"{source!r} is neither a .py file nor an importable Python module")
    return snapshot(f"module:{source}", Path(spec.origin).read_bytes())


def snapshot(source: str, code: bytes) -> PipelineCode:
    """The code of ``source`` as stored (a module keeps its package for relative imports)."""
    package = None
    if source.startswith("module:"):
        package = source.removeprefix("module:").rpartition(".")[0] or None
    return PipelineCode(source, code, package)


def load(code: PipelineCode) -> Pipeline:
    """Execute the code in a fresh module and return its checked ``Pipeline``."""
    where = code.source.removeprefix("module:")
    try:
        compiled = compile(code.code, where, "exec")
    except SyntaxError as exc:
        raise PipelineInvalid(
            f"{where}:{exc.lineno}: syntax error: {exc.msg}"
            + (f"\n    {exc.text.strip()}" if exc.text else "")
        ) from None
    module = types.ModuleType(f"shipyard_pipeline_{code.sha256[:16]}")
    module.__file__ = where
    if code.package:
        module.__package__ = code.package
    folder = code.folder
    added = folder is not None and str(folder) not in sys.path
    if added:
        sys.path.insert(0, str(folder))
    try:
        exec(compiled, module.__dict__)
    except Exception as exc:
        line = _line_in(exc, where)
        raise PipelineInvalid(f"{where}{line}: {type(exc).__name__}: {exc}") from None
    finally:
        if added:
            sys.path.remove(str(folder))
    found = [v for v in module.__dict__.values() if isinstance(v, Pipeline)]
    if len(found) != 1:
        raise PipelineInvalid(
            f"{where} must define exactly one shipyard Pipeline "
            f"(e.g. pipeline = Pipeline(...)); found {len(found)}"
        )
    pipeline = found[0]
    try:
        for step in pipeline.steps.values():
            resolve_types(step)
        pipeline.check()
    except PipelineInvalid as exc:
        raise PipelineInvalid(f"{where}: {exc}") from None
    return pipeline


def _line_in(exc: Exception, filename: str) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    return f":{frames[-1].lineno}" if frames else ""
