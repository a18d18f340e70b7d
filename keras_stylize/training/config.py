"""`FitConfig`: every setting of a training run and its default, in one place.

The command line (`keras_stylize fit`) offers each setting as an option with this
default (`FitConfig.default`, `FitConfig.flag`); `FitConfig.command()` writes a config back
as a command line. A checkpoint stores the config (`dataclasses.asdict`) and a resume
compares it with the command's (`config_differences`). Importing this module does not
import TensorFlow.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keras_stylize.images import list_images
from keras_stylize.options import (
    DARKENING_CELL,
    DARKENING_RATIO,
    DISTRIBUTE,
    FAMILIES,
    NORMS,
    OUTPUTS,
    PRECISIONS,
    STYLE_MEASURES,
    TEXTURE_SCALES,
)
from keras_stylize.perceptual.layers import (
    DEFAULT_CONTENT_LAYER,
    DEFAULT_CONTENT_WEIGHT,
    DEFAULT_STYLE_LAYERS,
    DEFAULT_STYLE_WEIGHT,
    DEFAULT_TV_WEIGHT,
)


def command_arguments(flag: str, value: Any) -> list[str]:
    """The command-line arguments that give option `flag` the value `value` (a flag per
    item of a list, `NAME:SHARE` items of a dict of shares, `LAYER:WEIGHT` layer lists)."""
    if isinstance(value, bool):
        return [flag] if value else []
    if flag == "--style-share":
        return [arg for name, share in value.items() for arg in (flag, f"{name}:{share:g}")]
    if flag == "--style-layers":
        pairs = value.items() if isinstance(value, dict) else ((v, 1.0) for v in value)
        return [flag, ",".join(k if w == 1.0 else f"{k}:{w:g}" for k, w in pairs)]
    if isinstance(value, list):
        return [arg for item in value for arg in (flag, str(item))]
    return [flag, str(value)]


@dataclass
class FitConfig:
    """Everything that defines a training run (all paths as strings).

    `style` is one path or a list of paths; each is a style image or a folder of them.
    One style image trains a single-style generator; several train a multi-style one
    (`norm="instance"` only) whose styles are named after the files. `style_shares` maps
    style names to their relative share of the training images (default 1 each).
    """

    style: list[str] | str
    content: str
    out: str
    family: str = "johnson"
    norm: str = "instance"
    output: str = "linear"
    width: float = 1.0
    scales: int = TEXTURE_SCALES
    image_size: int = 256
    batch_size: int = 4
    steps: int = 2000
    steps_per_epoch: int = 100
    learning_rate: float = 1e-3
    lr_decay_steps: int = 0
    content_weight: float = DEFAULT_CONTENT_WEIGHT
    style_weight: float = DEFAULT_STYLE_WEIGHT
    tv_weight: float = DEFAULT_TV_WEIGHT
    temporal_weight: float = 0.0
    darkening_weight: float = 0.0
    palette_weight: float = 0.0
    palette_window: int | None = None
    dead_unit_weight: float = 0.0
    darkening_cell: int = DARKENING_CELL
    darkening_ratio: float = DARKENING_RATIO
    content_layer: str = DEFAULT_CONTENT_LAYER
    style_layers: list[str] | dict[str, float] = field(
        default_factory=lambda: list(DEFAULT_STYLE_LAYERS)
    )
    style_size: int | None = 384
    style_measure: str = "gram"
    style_window: int | None = None
    vgg_weights: str | None = None
    random_vgg: bool = False
    seed: int = 0
    log_dir: str | None = None
    precision: str = "float32"
    sample_every: int = 1
    init_from: str | None = field(default=None, metadata={"flag": "--from"})
    warm_start: str | None = None
    distribute: str = "none"
    style_shares: dict[str, float] = field(default_factory=dict, metadata={"flag": "--style-share"})
    style_prediction: bool = False
    hold_out: str | None = None
    freeze_generator: bool = False
    free_styles: int = 0

    def __post_init__(self) -> None:
        styles = [self.style] if isinstance(self.style, (str, os.PathLike)) else self.style
        self.style = [str(s) for s in styles]
        checks = [
            (self.family in FAMILIES, f"family must be one of {sorted(FAMILIES)}"),
            (self.norm in NORMS, f"norm must be one of {NORMS}, not {self.norm!r}"),
            (self.output in OUTPUTS, f"output must be one of {OUTPUTS}, not {self.output!r}"),
            (min(self.steps, self.steps_per_epoch, self.batch_size) >= 1,
             "steps, steps_per_epoch and batch_size must be >= 1"),
            (self.image_size >= 32, f"image_size must be >= 32, not {self.image_size}"),
            (self.scales >= 1, f"scales must be >= 1, not {self.scales}"),
            (self.family == "texture" or self.scales == TEXTURE_SCALES,
             "--scales applies to --family texture only"),
            (str(self.out).endswith(".keras"), f"--out must end with .keras: {self.out}"),
            (self.precision in PRECISIONS, f"precision must be one of {PRECISIONS}"),
            (self.distribute in DISTRIBUTE, f"distribute must be one of {DISTRIBUTE}"),
            (self.learning_rate > 0, f"learning_rate must be > 0, not {self.learning_rate}"),
            (0 <= self.lr_decay_steps <= self.steps,
             f"lr_decay_steps must be between 0 and steps ({self.steps}), "
             f"not {self.lr_decay_steps}"),
            (min(self.content_weight, self.style_weight, self.tv_weight,
                 self.temporal_weight, self.darkening_weight, self.palette_weight,
                 self.dead_unit_weight) >= 0,
             "loss weights must be >= 0"),
            (self.darkening_cell >= 1, f"darkening_cell must be >= 1, not {self.darkening_cell}"),
            (0 < self.darkening_ratio <= 1,
             f"darkening_ratio must be in (0, 1], not {self.darkening_ratio}"),
            (self.style_measure in STYLE_MEASURES,
             f"style_measure must be one of {STYLE_MEASURES}, not {self.style_measure!r}"),
            (self.style_window is None or 32 <= self.style_window <= self.image_size,
             f"style_window must be between 32 and image_size ({self.image_size}), "
             f"not {self.style_window}"),
            (bool(self.style), "at least one --style is required"),
            (not (self.init_from and self.warm_start),
             "--from and --warm-start exclude each other"),
            (all(w >= 0 for w in self.style_shares.values()), "style shares must be >= 0"),
            (not self.style_prediction or (self.warm_start and not self.init_from),
             "--style-prediction needs --warm-start MODEL, a multi-style model"),
            (self.palette_window is None or 2 <= self.palette_window <= self.image_size,
             f"palette_window must be between 2 and image_size ({self.image_size}), "
             f"not {self.palette_window}"),
            (self.palette_window is None or self.palette_weight > 0,
             "--palette-window needs --palette-weight"),
            (self.style_prediction or not (self.hold_out or self.freeze_generator
                                           or self.free_styles),
             "--hold-out, --freeze-generator and --free-styles are options of "
             "--style-prediction"),
            (self.free_styles >= 0, f"free_styles must be >= 0, not {self.free_styles}"),
        ]  # fmt: skip
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def resolved_log_dir(self) -> Path:
        return Path(self.log_dir) if self.log_dir else Path(self.out).with_suffix(".logs")

    @classmethod
    def default(cls, name: str) -> Any:
        """The default of setting `name` (the command line's default too)."""
        item = cls.__dataclass_fields__[name]
        if item.default_factory is not dataclasses.MISSING:
            return item.default_factory()
        return item.default

    @classmethod
    def flag(cls, name: str) -> str:
        """The command-line option of setting `name` (`--style-layers` for `style_layers`)."""
        return cls.__dataclass_fields__[name].metadata.get("flag", "--" + name.replace("_", "-"))

    def command(self) -> str:
        """The `keras_stylize fit` command line of this config (settings at their
        default values are left out): what a resume runs."""
        args = ["keras_stylize", "fit"]
        for item in dataclasses.fields(self):
            key, value = item.name, getattr(self, item.name)
            if key not in ("style", "content", "out") and value == self.default(key):
                continue
            args += command_arguments(self.flag(key), value)
        return shlex.join(args)

    def style_files(self) -> list[Path]:
        """The style images, in order: files as given, folders expanded (sorted)."""
        files: list[Path] = []
        for entry in map(Path, self.style):
            if entry.is_dir():
                found = list_images(entry, recursive=False)
                if not found:
                    raise ValueError(f"no style images in folder {entry}")
                files.extend(found)
            elif entry.is_file():
                files.append(entry)
            else:
                raise ValueError(f"style image not found: {entry}")
        names = [f.stem for f in files]
        unknown = sorted(set(self.style_shares) - set(names))
        if unknown:
            raise ValueError(
                f"--style-share names unknown styles: {', '.join(unknown)} "
                f"(styles: {', '.join(names)})"
            )
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"style names must be unique; repeated: {', '.join(duplicates)}")
        return files

    def held_out(self) -> set[str]:
        """The file names `hold_out` lists (one per line; blank lines and `#` comments
        ignored): paintings a style-prediction run never trains on."""
        if not self.hold_out:
            return set()
        lines = Path(self.hold_out).read_text(encoding="utf-8").splitlines()
        return {line.strip() for line in lines if line.strip() and not line.startswith("#")}

    def training_paintings(self) -> list[Path]:
        """The style files less the held-out ones (a style-prediction run's paintings)."""
        held = self.held_out()
        files = [f for f in self.style_files() if f.name not in held]
        if not files:
            raise ValueError("every style image is held out: no painting left to train on")
        return files


# Settings a resumed run may change: the step budget and learning rate (not state: a
# resumed run follows the given schedule from the restored step count), where things are
# written, and how the same computation is run. Every other setting must match.
RESUMABLE_SETTINGS = ("steps", "learning_rate", "lr_decay_steps", "out", "log_dir",
                      "sample_every", "distribute", "precision", "vgg_weights")  # fmt: skip
_PATH_SETTINGS = ("style", "content", "init_from", "warm_start", "hold_out")
# Settings of earlier versions, with the value that meant "off": a checkpoint that stored
# another value was trained with a removed option and cannot be resumed.
REMOVED_SETTINGS = {"kurtosis_weight": 0.0, "patch_weight": 0.0}


def _same_path(a: Any, b: Any) -> bool:
    if a == b or a is None or b is None:
        return a == b
    return os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b)


def _comparable(key: str, value: Any) -> Any:
    if key == "style_layers" and isinstance(value, list):  # a list means weight 1 each
        return {name: 1.0 for name in value}
    return value


def config_differences(stored: dict, config: FitConfig) -> list[str]:
    """The settings of `config` that differ from a checkpoint's stored config (apart from
    `RESUMABLE_SETTINGS`), as `--option stored -> given` strings. A setting the stored
    config lacks (a checkpoint of an older version) counts as its default."""
    current = json.loads(json.dumps(dataclasses.asdict(config)))
    defaults = json.loads(json.dumps(dataclasses.asdict(
        FitConfig(style=config.style, content=config.content, out=config.out))))  # fmt: skip
    differences = []
    for key, value in current.items():
        if key in RESUMABLE_SETTINGS:
            continue
        old = _comparable(key, stored.get(key, defaults[key]))
        value = _comparable(key, value)
        if key in _PATH_SETTINGS:
            olds = old if isinstance(old, list) else [old]
            values = value if isinstance(value, list) else [value]
            same = len(olds) == len(values) and all(map(_same_path, olds, values))
        else:
            same = old == value
        if not same:
            name = FitConfig.flag(key)
            differences.append(f"{name} {json.dumps(old)} -> {json.dumps(value)}")
    for key, off in REMOVED_SETTINGS.items():
        if stored.get(key, off) != off:
            option = "--" + key.replace("_", "-")
            differences.append(f"{option} {json.dumps(stored[key])} (an option that was removed)")
    return differences
