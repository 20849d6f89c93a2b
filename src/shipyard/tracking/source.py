"""Where a run's code came from: the calling script and its git commit.

The commit is read from ``.git`` directly (HEAD, loose refs, packed-refs)
instead of spawning ``git``: starting a run must cost microseconds, not the
milliseconds of a subprocess.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path


def caller_source() -> str | None:
    script = sys.argv[0] if sys.argv and sys.argv[0] else ""
    if script and script not in ("-c", "-m") and Path(script).is_file():
        return str(Path(script).resolve())
    return None


def caller_git_commit() -> str | None:
    script = caller_source()
    start = Path(script).parent if script else Path.cwd()
    return git_commit(start.resolve())


@functools.cache
def git_commit(start: Path) -> str | None:
    git_dir = _find_git_dir(start)
    if git_dir is None:
        return None
    try:
        head = (git_dir / "HEAD").read_text().strip()
    except OSError:
        return None
    if not head.startswith("ref:"):
        return head or None  # detached HEAD holds the commit itself
    ref = head.split(":", 1)[1].strip()
    loose = git_dir / ref
    if loose.is_file():
        return loose.read_text().strip() or None
    packed = git_dir / "packed-refs"
    if packed.is_file():
        for line in packed.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1] == ref:
                return parts[0]
    return None  # a branch with no commits yet


def _find_git_dir(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / ".git"
        if candidate.is_dir():
            return candidate
        if candidate.is_file():  # worktrees and submodules: "gitdir: <path>"
            text = candidate.read_text().strip()
            if text.startswith("gitdir:"):
                return (folder / text.split(":", 1)[1].strip()).resolve()
    return None
