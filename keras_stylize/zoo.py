"""The model zoo: pretrained generators, each with a card, loadable by name.

Each entry is a folder `zoo/<name>/` in the repository, installed with the package as
`keras_stylize/_zoo/<name>/` (setup.cfg maps one onto the other, so editable and regular
installs both find it): `model.keras` (the generator), `card.json` (see `docs/zoo.md`
for the fields), `style.jpg` (the public-domain style image) and `preview.jpg`.
`load(name)` checks the weights against the card's sha256 before loading them with
`safe_mode=True`. Set `KERAS_STYLIZE_ZOO` to use another zoo folder.

This module owns model loading: `load_generator` takes a model, a `.keras` path or a zoo
name (training, inference, export and the command line all load generators with it).
Importing it does not import TensorFlow.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keras_stylize.files import sha256_of

if TYPE_CHECKING:
    import keras

CARD = "card.json"
WEIGHTS = "model.keras"


class ZooError(LookupError):
    """Unknown zoo name, or a zoo file that fails its checksum."""


def root() -> Path:
    """The zoo folder in use."""
    override = os.environ.get("KERAS_STYLIZE_ZOO")
    if override:
        return Path(override)
    return Path(str(resources.files("keras_stylize._zoo")))


def list() -> list[str]:  # noqa: A001 - the zoo's public API is zoo.list()
    """Names of the available models, sorted."""
    base = root()
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if (p / CARD).is_file())


def _entry(name: str) -> Path:
    names = list()
    if name not in names:
        raise ZooError(f"unknown zoo model {name!r}; available: {', '.join(names) or 'none'}")
    return root() / name


def info(name: str) -> dict:
    """The model card of `name` as a dict (plus `path`, the entry folder); `ZooError` if
    the card is not valid JSON."""
    folder = _entry(name)
    try:
        card = json.loads((folder / CARD).read_text())
    except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError
        reason = " ".join(str(exc).split())[:120]
        raise ZooError(
            f"zoo model {name!r}: {folder / CARD} is not valid JSON ({reason})"
        ) from None
    if not isinstance(card, dict):
        raise ZooError(f"zoo model {name!r}: {folder / CARD} is not a JSON object")
    card["path"] = str(folder)
    return card


def stages(card: dict) -> list[dict]:
    """The training stages of a card's `recipe`, in order: the recipe itself (the first
    stage), then each stage trained on from the one before (`then`, nested)."""
    chain = [card["recipe"]]
    while chain[-1].get("then"):
        chain.append(chain[-1]["then"])
    return chain


def weights_path(name: str, verify: bool = True) -> Path:
    """Path of the `.keras` file of `name`, checked against the card's sha256."""
    card = info(name)
    path = Path(card["path"]) / card.get("weights", {}).get("file", WEIGHTS)
    if not path.is_file():
        raise ZooError(f"zoo model {name!r}: weights file missing ({path})")
    if verify:
        expected = card["weights"]["sha256"]
        actual = sha256_of(path)
        if actual != expected:
            raise ZooError(
                f"zoo model {name!r}: {path.name} has sha256 {actual}, card says {expected}"
            )
    return path


def load(name: str) -> keras.Model:
    """The generator of zoo model `name`, verified and loaded with `safe_mode=True`."""
    import keras

    import keras_stylize.layers  # noqa: F401 - registers the custom layers

    return keras.saving.load_model(weights_path(name), safe_mode=True, compile=False)


def load_generator(model: keras.Model | str | os.PathLike) -> keras.Model:
    """A generator from a `keras.Model`, a `.keras` path (loaded with `safe_mode=True`)
    or a zoo name."""
    import keras

    import keras_stylize.layers  # noqa: F401 - registers the custom layers

    if isinstance(model, keras.Model):
        return model
    text = str(model)
    if text.endswith(".keras") or os.path.sep in text or os.path.exists(text):
        if not os.path.isfile(text):
            raise FileNotFoundError(f"model file not found: {text}")
        return check_generator(keras.saving.load_model(text, safe_mode=True, compile=False), text)
    return load(text)


def load_predictor(model: keras.Model | str | os.PathLike) -> keras.Model:
    """The style predictor of a generator (`generators.prediction`): for a `.keras` path
    `NAME.keras`, the file `NAME.predictor.keras` beside it (or that file itself); for a
    zoo name, the card's `predictor` file (checked against its sha256). Loaded with
    `safe_mode=True`.

    Raises:
        ValueError: the model has no predictor (one line saying so).
    """
    import keras

    import keras_stylize.layers  # noqa: F401 - registers the custom layers
    from keras_stylize.generators.prediction import predictor_path

    if isinstance(model, keras.Model):
        raise ValueError(
            f"a painting as a style needs the style predictor of {model.name}: pass "
            "predictor= (a model or its .keras file)"
        )
    text = str(model)
    if text.endswith(".keras") or os.path.sep in text or os.path.exists(text):
        path = Path(text) if text.endswith(".predictor.keras") else predictor_path(text)
        if not path.is_file():
            raise ValueError(
                f"{text} has no style predictor ({path.name} not found beside it): a "
                "painting as a style needs a model trained with --style-prediction"
            )
    else:
        card = info(text)
        entry = card.get("predictor")
        if not entry:
            with_one = [n for n in list() if info(n).get("predictor")]
            raise ZooError(
                f"zoo model {text!r} has no style predictor; models that take any painting: "
                f"{', '.join(with_one) or 'none yet'}"
            )
        path = Path(card["path"]) / entry["file"]
        actual = sha256_of(path) if path.is_file() else "missing"
        if actual != entry["sha256"]:
            raise ZooError(f"zoo model {text!r}: {path.name} has sha256 {actual}, card says "
                           f"{entry['sha256']}")  # fmt: skip
    return keras.saving.load_model(path, safe_mode=True, compile=False)


def check_generator(model: Any, name: str) -> keras.Model:
    """`model` if it has a keras_stylize generator's interface: an RGB image input
    `(batch, H, W, 3)` (and, for several styles, a style-weights input read by the style
    layer) and an RGB image output; else ValueError, one line naming `name`."""
    import keras

    from keras_stylize.generators.blocks import STYLE_LAYER

    def shape(tensor) -> tuple:
        return tuple(getattr(tensor, "shape", ()) or ())

    reason = None
    if not isinstance(model, keras.Model):
        reason = f"it holds a {type(model).__name__}, not a model"
    elif len(model.inputs) not in (1, 2) or len(model.outputs) != 1:
        reason = f"{len(model.inputs)} inputs and {len(model.outputs)} outputs"
    elif len(shape(model.inputs[0])) != 4 or shape(model.inputs[0])[-1] != 3:
        reason = f"input shape {shape(model.inputs[0])}, not (batch, H, W, 3)"
    elif len(shape(model.outputs[0])) != 4 or shape(model.outputs[0])[-1] != 3:
        reason = f"output shape {shape(model.outputs[0])}, not (batch, H, W, 3)"
    elif len(model.inputs) == 2 and STYLE_LAYER not in {layer.name for layer in model.layers}:
        reason = f"a second input but no {STYLE_LAYER} layer"
    if reason:
        raise ValueError(f"{name} is not a keras_stylize generator ({reason})")
    return model
