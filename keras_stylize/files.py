"""File helpers used across keras_stylize: checksums, atomic writes and the output rules.

An atomic write goes to a temporary file in the destination's folder and is renamed onto
the destination at the end, so readers never see a partial file and an interrupted write
(a crash, `kill -9`, a full disk) leaves the previous file intact. Without `overwrite` the
finished file is linked to its name (`os.link`, which never replaces a file), so of two
writers of one new name exactly one wins and the other gets `FileExistsError`.

The rules every command follows (`check_output`, `check_collisions`): an existing output is
replaced only with `overwrite`; no output may be one of the command's inputs; two inputs
never write one output. Temporary files are hidden (their names start with a dot), and
folder scans skip hidden files, so a leftover of an interrupted run is never read as input.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path


class OutputExistsError(FileExistsError):
    """An output exists and may not be replaced (no `overwrite`)."""


def sha256_of(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _exists_error(path: str | os.PathLike) -> OutputExistsError:
    return OutputExistsError(f"{path} exists (use --overwrite)")


def _publish(tmp: str, path: Path, overwrite: bool) -> None:
    """Gives the finished file `tmp` the name `path`: renamed over it with `overwrite`,
    else created without replacing anything (`OutputExistsError` if the name is taken)."""
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # fails with EEXIST, never replaces
    except FileExistsError:
        raise _exists_error(path) from None
    except OSError:  # a file system without hard links: claim the name, then fill it
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            raise _exists_error(path) from None
        os.replace(tmp, path)
        return
    os.remove(tmp)


def atomic_write(
    path: str | os.PathLike,
    write: Callable[[str], None],
    suffix: str = ".tmp",
    overwrite: bool = True,
) -> None:
    """Calls `write(tmp)` to write a temporary file in the folder of `path`, then renames
    it to `path`. `suffix` is the temporary file's extension (some writers insist on one,
    e.g. ".keras"). The file gets the usual mode (0666 minus the umask). With
    `overwrite=False` an existing `path` is never replaced, even one created while `write`
    ran: `OutputExistsError`, and the temporary file is removed."""
    path = Path(path)
    if not overwrite and path.exists():
        raise _exists_error(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600
        write(tmp)
        _publish(tmp, path, overwrite)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_write_bytes(path: str | os.PathLike, data: bytes, overwrite: bool = True) -> None:
    """Writes `data` to `path` atomically (see `atomic_write`), fsynced before the rename."""

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

    atomic_write(path, write, overwrite=overwrite)


def same_path(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True if `a` and `b` name the same file or folder (links, `..`, hard links)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def is_within(path: str | os.PathLike, folder: str | os.PathLike) -> bool:
    """True if `path` is `folder` or lies inside it."""
    path, folder = Path(os.path.realpath(path)), Path(os.path.realpath(folder))
    return path == folder or folder in path.parents


def check_output(
    output: str | os.PathLike,
    inputs: Iterable[str | os.PathLike | None] = (),
    overwrite: bool = False,
    folder: bool = False,
) -> None:
    """The output rules, checked before any work: `output` is none of `inputs` (nor, for
    a `folder` output, a folder holding one of them), and exists only with `overwrite`.

    Raises:
        ValueError: `output` would overwrite an input.
        OutputExistsError: `output` exists and `overwrite` is not set.
    """
    for item in inputs:
        if item is None or str(item) == "-" or not os.path.exists(item):
            continue
        if same_path(output, item) or (folder and is_within(item, output)):
            raise ValueError(f"output {output} would overwrite an input ({item})")
    if not overwrite and os.path.lexists(output):
        raise _exists_error(output)


def check_collisions(pairs: Iterable[tuple[str, str | os.PathLike]]) -> None:
    """Raises ValueError naming the inputs when two of the `(input, output)` pairs write
    one output (e.g. `a.bmp` and `a.tif`, or `x.JPG` and `x.jpg`, both to `a_stylized.jpg`).
    Names are compared case-insensitively: they are one file on macOS and Windows."""
    seen: dict[str, str] = {}
    clashes: list[str] = []
    for item, output in pairs:
        key = os.path.normcase(os.path.abspath(output)).casefold()
        if key in seen:
            clashes.append(f"{seen[key]} and {item} both write {output}")
        else:
            seen[key] = item
    if clashes:
        raise ValueError(
            "inputs collide: " + "; ".join(clashes) + " (rename one, or stylize them separately)"
        )


def publish_directory(
    staged: str | os.PathLike,
    out: str | os.PathLike,
    overwrite: bool = False,
    replaceable: Callable[[Path], bool] = lambda path: False,
) -> None:
    """Moves a fully written folder `staged` to `out` (same file system). An existing
    `out` is replaced only with `overwrite` and only if `replaceable(out)` says it is ours
    (e.g. an earlier export); anything else there is never deleted. The old folder is
    renamed aside before the new one moves in, then removed."""
    out = Path(out)
    if not os.path.lexists(out):
        os.rename(staged, out)
        return
    if not overwrite:
        raise _exists_error(out)
    if out.is_symlink() or not out.is_dir() or not replaceable(out):
        raise ValueError(f"{out} exists and is not an earlier output of this kind; not replaced")
    aside = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
    os.replace(out, aside / out.name)
    try:
        os.rename(staged, out)
    except OSError:
        os.replace(aside / out.name, out)  # put the old one back
        raise
    finally:
        shutil.rmtree(aside, ignore_errors=True)
