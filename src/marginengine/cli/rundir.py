"""The output folder of ``simulate``: never delete what the tool did not write.

A run is written into a staging folder next to its target, ``<target>.partial-<pid>``,
holding a marker file (:data:`MARKER`, JSON: tool, version, host, pid, state, files). Only
when the run has finished is the staging folder renamed to the target. So:

- a target that exists and is not empty is refused unless it is a previous run of the tool
  (its marker says so) and ``--force`` is given; even then only the files its marker lists
  are deleted, and a previous run holding files the tool did not write is refused;
- ``.``, ``..``, an empty name, a folder that holds the working directory, and a scenario
  name that would leave the output root (``runs/``) are refused;
- the staging folder of a killed run is recognised by its name, its marker (state
  ``staging``) and its pid being dead on this host, and the next run removes it.

Nothing is created until :func:`prepare` has checked all of this; the caller validates the
scenario before calling it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from marginengine.errors import MarginEngineError

MARKER = ".marginengine-run"
DEFAULT_ROOT = Path("runs")
_STAGING = re.compile(r"^(?P<name>.+)\.(?P<kind>partial|replaced)-(?P<pid>\d+)$")


class OutputError(MarginEngineError):
    """The output folder cannot be used as asked (the message names it and why)."""


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("marginengine")
    except Exception:  # metadata is informative only
        return "unknown"


def read_marker(folder: Path) -> dict[str, Any] | None:
    """The marker of ``folder`` if it holds a well-formed one written by this tool."""
    path = folder / MARKER
    try:
        if path.is_symlink() or not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("tool") != "marginengine":
        return None
    files = data.get("files", [])
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    return data


def _write_marker(folder: Path, state: str, files: list[str], scenario: str) -> None:
    data = {"tool": "marginengine", "version": _version(), "scenario": scenario,
            "host": socket.gethostname(), "pid": os.getpid(), "state": state,
            "written_utc": datetime.now(UTC).isoformat(timespec="seconds"), "files": files}
    tmp = folder / (MARKER + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    tmp.replace(folder / MARKER)


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    except OSError:
        return True  # cannot tell: treat as alive, delete nothing
    return True


def _listed_files(folder: Path, marker: dict[str, Any]) -> list[Path]:
    """The marker's files that are inside ``folder`` (names that climb out are skipped)."""
    out = []
    real = folder.resolve()
    for name in marker.get("files", []):
        parts = Path(name).parts
        if not parts or Path(name).is_absolute() or ".." in parts:
            continue
        path = folder / name
        # Not through a symbolic link to a folder elsewhere: only files under this one.
        if path.parent.resolve() != real.joinpath(*parts[:-1]):
            continue
        out.append(path)
    return out


def _remove_listed(folder: Path, marker: dict[str, Any]) -> None:
    """Delete the files the marker lists, the marker, and then the folders left empty."""
    for path in _listed_files(folder, marker):
        if path.is_symlink() or path.is_file():
            path.unlink(missing_ok=True)
    (folder / (MARKER + ".tmp")).unlink(missing_ok=True)
    (folder / MARKER).unlink(missing_ok=True)
    for sub in sorted((p for p in folder.rglob("*") if p.is_dir() and not p.is_symlink()),
                      key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            sub.rmdir()
    with contextlib.suppress(OSError):  # what the tool did not write stays, with its folder
        folder.rmdir()


def _unlisted(folder: Path, marker: dict[str, Any]) -> list[str]:
    listed = {p.resolve() for p in _listed_files(folder, marker)}
    listed |= {(folder / MARKER).resolve()}
    extra = []
    for path in folder.rglob("*"):
        if path.is_dir() and not path.is_symlink():
            continue
        if path.resolve() not in listed and path.absolute() not in listed:
            extra.append(str(path.relative_to(folder)))
    return sorted(extra)


def clean_leftovers(parent: Path) -> list[Path]:
    """Remove staging folders of killed runs in ``parent``; return those removed.

    A folder is removed only when its name is ``<name>.partial-<pid>`` (or
    ``.replaced-<pid>``), it holds this tool's marker with the same pid and this host, and
    that pid is no longer running. A staging folder holds only what its run wrote (it was
    created empty, under a name no one else uses), so everything in it is removed.
    """
    removed: list[Path] = []
    if not parent.is_dir():
        return removed
    host = socket.gethostname()
    for entry in sorted(parent.iterdir()):
        match = _STAGING.match(entry.name)
        if match is None or entry.is_symlink() or not entry.is_dir():
            continue
        marker = read_marker(entry)
        pid = int(match["pid"])
        if marker is None or marker.get("pid") != pid or marker.get("host") != host:
            continue
        if pid == os.getpid() or _pid_alive(pid):
            continue
        if match["kind"] == "partial" and marker.get("state") == "staging":
            _remove_tree(entry)
        else:
            _remove_listed(entry, marker)
        removed.append(entry)
    return removed


def _remove_tree(folder: Path) -> None:
    """Remove a staging folder this tool created (symlinks are removed, never followed)."""
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_symlink() or not path.is_dir():
            path.unlink(missing_ok=True)
        else:
            path.rmdir()
    folder.rmdir()


def target_folder(out: str | None, name: str, root: Path = DEFAULT_ROOT) -> Path:
    """The folder a run goes to: ``out`` as given, or ``root/name``.

    Raises
    ------
    OutputError
        For an empty ``out``, ``.`` or ``..`` (or a path ending in them), a folder that
        holds the working directory, or a ``name`` that would leave ``root``.
    """
    if out is not None:
        if not out.strip():
            raise OutputError("--out: must name a folder (got an empty name)")
        # pathlib keeps a final ".." and drops a final "." ("." itself has no name).
        if Path(out).name in ("", "..") or out.rstrip("/\\").endswith(("/.", "\\.")):
            raise OutputError(f"--out: {out!r} is not a new folder; name one, e.g. "
                              "--out runs/my-run")
        target = Path(out)
    else:
        if not name or name.strip(".") == "" or "/" in name or "\\" in name:
            raise OutputError(f"name: {name!r} cannot name a folder under {root}/")
        target = root / name
        base = root.resolve()
        if target.resolve().parent != base:
            raise OutputError(f"name: {name!r} would write outside {root}/")
    resolved = target.resolve()
    cwd = Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents:
        raise OutputError(f"--out: {target} holds the working directory; name a new folder")
    return target


@dataclass
class RunFolder:
    """A run being written: its staging folder, then its target.

    Use :func:`prepare` to make one, write into :attr:`staging`, then :meth:`commit` (or
    :meth:`abandon` on failure).
    """

    target: Path
    staging: Path
    scenario: str
    replace: dict[str, Any] | None = None
    created: list[Path] = field(default_factory=list)

    def commit(self) -> None:
        """List what the run wrote in its marker and put it in place of the target."""
        files = sorted(str(p.relative_to(self.staging)) for p in self.staging.rglob("*")
                       if not p.is_dir() and p.name not in (MARKER, MARKER + ".tmp"))
        _write_marker(self.staging, "complete", files, self.scenario)
        target = self.target
        if self.replace is not None and target.exists():
            # Move the previous run aside under a recognisable name, then delete only
            # what its marker lists (a kill in between leaves a folder the next run cleans).
            aside = target.with_name(f"{target.name}.replaced-{os.getpid()}")
            _write_marker(target, "replaced", list(self.replace.get("files", [])),
                          str(self.replace.get("scenario", "")))
            marker = read_marker(target) or self.replace
            target.rename(aside)
            self.staging.rename(target)
            _remove_listed(aside, marker)
            return
        if target.is_dir():
            target.rmdir()  # checked empty by prepare; the user's own empty folder
        self.staging.rename(target)

    def abandon(self) -> None:
        """Remove the staging folder and any parent folders :func:`prepare` created."""
        if self.staging.is_dir():
            _remove_tree(self.staging)
        for folder in reversed(self.created):
            try:
                folder.rmdir()
            except OSError:
                break  # not empty: someone else's now


def prepare(target: Path, scenario: str, force: bool) -> RunFolder:
    """Check ``target``, clean leftovers of killed runs next to it, create the staging
    folder (with its marker) and return it.

    Raises
    ------
    OutputError
        If ``target`` is a file or a symbolic link, is not empty and not a previous run of
        the tool, is a previous run and ``force`` is not given, or holds files the tool did
        not write; or if it cannot be made (a file stands where a parent folder would, or
        the system refuses the folder), naming ``--out`` and why.
    """
    replace = None
    if target.is_symlink():
        raise OutputError(f"--out: {target} is a symbolic link; name the folder itself")
    if target.exists():
        if not target.is_dir():
            raise OutputError(f"--out: {target} exists and is not a folder")
        if any(target.iterdir()):
            marker = read_marker(target)
            if marker is None:
                raise OutputError(
                    f"--out: {target} exists, is not empty and is not a marginengine run "
                    f"(no {MARKER}); nothing was deleted: name a new folder")
            if not force:
                raise OutputError(
                    f"--out: {target} holds a previous run; pass --force to replace it")
            extra = _unlisted(target, marker)
            if extra:
                shown = ", ".join(extra[:5]) + (f" and {len(extra) - 5} more"
                                                if len(extra) > 5 else "")
                raise OutputError(
                    f"--out: {target} holds files marginengine did not write ({shown}); "
                    "move them away or name a new folder")
            replace = marker
    created: list[Path] = []
    parent = target.parent
    missing = [p for p in (parent, *parent.parents) if not p.exists()]
    # The folder that would hold the run (or its first missing parent) must be a folder:
    # under a file, mkdir would fail naming the staging folder, which the user never gave.
    holder = next((p for p in (parent, *parent.parents) if p.exists()), None)
    if holder is not None and not holder.is_dir():
        raise OutputError(f"--out: {target} cannot be made: {holder} is a file, not a "
                          "folder")
    try:
        for folder in reversed(missing):
            folder.mkdir()
            created.append(folder)
        clean_leftovers(parent)
        staging = parent / f"{target.name}.partial-{os.getpid()}"
        if staging.exists():
            raise OutputError(f"--out: {staging} already exists (another run of this "
                              "process?)")
        staging.mkdir()
    except OSError as exc:
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise OutputError(f"--out: {target} cannot be made: "
                          f"{exc.strerror or exc}") from None
    _write_marker(staging, "staging", [], scenario)
    return RunFolder(target, staging, scenario, replace, created)
