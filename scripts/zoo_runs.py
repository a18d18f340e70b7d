"""Maintainer tool: zoo trainings that span sessions (see checkpoints/README.md).

    python scripts/zoo_runs.py status                 # every run in checkpoints/: step, time
    python scripts/zoo_runs.py resume checkpoints/RUN # prints and runs the run's command
    python scripts/zoo_runs.py resume checkpoints/RUN --learning-rate 0.0005  # ... changed
    python scripts/zoo_runs.py styles LIST.csv FOLDER # the style folder of a multi-style run

A run's folder holds its `checkpoint.npz`, whose metadata keeps the run's full config; the
command is rebuilt from it (`FitConfig.command`). Its paths (style, content, output) are
relative to the folder the run was started from; `resume` finds that folder from where the
stored `--log-dir` sits (e.g. `main/checkpoints/RUN` started from the project's parent) and
runs the command there, so it works from any working directory.

A multi-style run names its styles after the files of its style folder; `styles` makes
that folder (links named `<name>.jpg`) from a list whose columns `file` (relative to the
data folder) and `name` give each painting, e.g. `docs/notes/zoo-styles-34.csv`.
"""

from __future__ import annotations

import argparse
import csv
import os
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _config(folder: Path):
    """The checkpoint's metadata and run config, and the folder the run was started from."""
    from keras_stylize.training.checkpoint import CHECKPOINT_FILE, read_checkpoint_metadata
    from keras_stylize.training.config import FitConfig

    meta = read_checkpoint_metadata(folder / CHECKPOINT_FILE)
    if meta is None:
        raise SystemExit(f"{folder}: no {CHECKPOINT_FILE}")
    config = FitConfig(**meta["extra"]["config"])
    stored = Path(config.log_dir or "")
    here = folder.resolve()
    depth = len(stored.parts)
    if stored.is_absolute() or depth == 0 or here.parts[-depth:] != stored.parts:
        # not recognisable: run from the current folder with the log dir given here
        return meta, FitConfig(**{**meta["extra"]["config"], "log_dir": str(folder)}), Path.cwd()
    return meta, config, here.parents[depth - 1]


def link_styles(listing: Path, folder: Path, data: Path) -> int:
    """Links each painting of `listing` into `folder` as `<name><suffix>`."""
    folder.mkdir(parents=True, exist_ok=True)
    with listing.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        source = (data / row["file"]).resolve()
        if not source.is_file():
            raise SystemExit(f"{listing}: {source} not found (give --data)")
        link = folder / f"{row['name']}{source.suffix}"
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(source)
    print(f"{len(rows)} styles linked in {folder}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("status")
    resume = sub.add_parser("resume")
    resume.add_argument("folder")
    resume.add_argument("options", nargs=argparse.REMAINDER,
                        help="fit options appended to the stored command (the last wins), e.g. "
                        "--learning-rate 0.0005; only settings a resume may change")  # fmt: skip
    styles = sub.add_parser("styles")
    styles.add_argument("list")
    styles.add_argument("folder")
    styles.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    args = parser.parse_args()
    if args.command == "styles":
        return link_styles(Path(args.list), Path(args.folder), Path(args.data))
    if args.command == "status":
        from keras_stylize.training.checkpoint import CHECKPOINT_FILE

        for folder in sorted(p for p in (ROOT / "checkpoints").iterdir() if p.is_dir()):
            if not (folder / CHECKPOINT_FILE).is_file():
                print(f"{folder.name}: run.json only (a finished stage's record)")
                continue
            meta, config, _ = _config(folder)
            print(f"{folder.name}: step {meta['iterations']}/{config.steps}, "
                  f"{meta['train_seconds'] / 60:.0f} min trained")  # fmt: skip
        return 0
    meta, config, start = _config(Path(args.folder))
    command = shlex.split(config.command()) + args.options
    print(f"resuming at step {meta['iterations']} in {start}: {shlex.join(command)}", flush=True)
    return subprocess.call(command, cwd=start, env=os.environ.copy())


if __name__ == "__main__":
    sys.exit(main())
