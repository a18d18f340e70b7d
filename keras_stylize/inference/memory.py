"""Memory of inference passes: the process's resident size, the estimated peak of a pass,
the tile size that fits a budget, and reserving TensorFlow's CPU memory pool in one piece
before a large pass.

With oneDNN on (TensorFlow's default on x86 CPUs) TensorFlow's CPU allocator serves large
tensors from a best-fit pool (BFC) that grows region by region as a pass needs more and
never gives memory back. A tensor cannot span two regions, so the full-resolution tensors
of a pass, freed and requested again in other sizes (a padded copy is a few rows larger
than the map it pads), leave holes that a later, larger request cannot use, and the pool
grows by another region. `reserve` first allocates and releases one uninitialised tensor
of the pass's estimated size, so the pool gets one region that large (its pages become
resident only as tensors use them) and the pass is carved from it. docs/stylize.md has
the measurements behind the factors below.
"""

from __future__ import annotations

import os

import keras
import numpy as np

_MIN_RESERVATION = 256 * 2**20  # smaller passes fit in what the pool already holds
_reserved = 0  # the largest reservation made in this process, bytes
WHOLE_PASS_FACTOR = 1.75  # a pass's temporaries over its largest layer's input and output
# A tile pass also holds the features whose sums give the shared statistics.
TILE_PASS_OVERHEAD = 1.45
MIN_TILE = 128  # the smallest tile `plan_tiles` proposes, px


def rss_mb() -> float:
    """This process's resident memory now, MB (Linux; 0 where unknown)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def activation_bytes_per_pixel(generator: keras.Model) -> float:
    """Estimated peak memory of a whole-image pass, bytes per input pixel:
    `WHOLE_PASS_FACTOR` times 4 bytes times the largest sum of a layer's input and output
    elements per pixel (found from the output shapes at 64 x 64). The factor covers the
    graph's temporaries (padding copies, normalization intermediates). 4 bytes in every
    precision: in bfloat16 the peak is as high as in float32 (casts and the float32
    normalization statistics keep float32 maps alive). Use it on the model inference runs
    (`InferenceSession.bytes_per_pixel` does)."""
    layers = [layer for layer in generator.layers
              if not isinstance(layer, keras.layers.InputLayer)]  # fmt: skip
    probe = keras.Model(generator.inputs, [layer.output for layer in layers])
    inputs = [np.zeros((1, 64, 64, 3), np.float32)]
    if len(generator.inputs) > 1:
        inputs.append(np.ones((1, generator.inputs[1].shape[-1]), np.float32))
    outputs = probe(inputs, training=False)
    size = {id(layer.output): int(np.prod(o.shape[1:])) / 64**2
            for layer, o in zip(layers, outputs, strict=True)}  # fmt: skip
    peak = 0.0
    for layer in layers:
        ins = [size.get(id(t), 0.0) for t in keras.tree.flatten(layer.input)]
        peak = max(peak, sum(ins) + size[id(layer.output)])
    return WHOLE_PASS_FACTOR * 4 * peak


def plan_tiles(
    bytes_per_pixel: float, height: int, width: int, max_memory_mb: float, overlap: int
) -> int | None:
    """None if a whole-image pass of `bytes_per_pixel` (`activation_bytes_per_pixel`) over
    `height` x `width` fits in `max_memory_mb` of process memory (peak RSS, counting what
    the process already holds), else the largest tile side that fits (at least
    `MIN_TILE`; a tile pass needs `TILE_PASS_OVERHEAD` times a whole-image pass's memory
    per pixel)."""
    images = height * width * 3 * 3  # uint8: the photo, its padded copy, the result
    free = max_memory_mb * 2**20 - rss_mb() * 2**20 - images
    if height * width * bytes_per_pixel <= free:
        return None
    side = (max(free, 0) / (bytes_per_pixel * TILE_PASS_OVERHEAD)) ** 0.5 - 2 * overlap
    return max(MIN_TILE, int(side) // 32 * 32)


def reserve(wanted: int) -> int:
    """Reserves TensorFlow's CPU memory pool for a whole-image pass whose estimated peak
    is `wanted` bytes: one uninitialised tensor that large is allocated and released at
    once, so the pool holds one region at least that large (see the module docstring).
    Does nothing for passes under 256 MB, when an earlier
    reservation was as large, or on a GPU machine (the pass runs in the GPU's own pool).
    The size is capped at half the physical memory and a refused allocation is ignored:
    the pass then grows the pool as it would anyway. Tiled passes do not use it: their
    tiles all have one shape, so the pool reuses its blocks already, and a reservation
    raised the peak of some tiled runs (docs/stylize.md).
    Returns the bytes reserved (0 if nothing was done)."""
    global _reserved
    import tensorflow as tf

    try:
        wanted = min(wanted, os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2)
    except (OSError, ValueError):
        pass
    if wanted < _MIN_RESERVATION or wanted <= _reserved or tf.config.list_physical_devices("GPU"):
        return 0
    megabytes = -(-wanted // 2**20)
    try:
        with tf.device("/CPU:0"):
            tf.raw_ops.Empty(shape=[megabytes, 2**20], dtype=tf.uint8, init=False)
    except (tf.errors.ResourceExhaustedError, tf.errors.InternalError):
        return 0
    _reserved = megabytes * 2**20
    return _reserved
