"""Memory of inference passes: the process's resident size, the estimated peak of a pass,
and reserving TensorFlow's CPU memory pool in one piece before a large pass.

With oneDNN on (TensorFlow's default on x86 CPUs) TensorFlow's CPU allocator serves large
tensors from a best-fit pool (BFC) that grows region by region as a pass needs more and
never gives memory back. A tensor cannot span two regions, so the full-resolution tensors
of a pass, freed and requested again in other sizes (a padded copy is a few rows larger
than the map it pads), leave holes that a later, larger request cannot use, and the pool
grows by another region: the Johnson network's whole-image float32 peak at 1024 x 1024 was
1200-1414 MB depending on the run. `reserve_for` first allocates and releases one
uninitialised tensor of the pass's estimated size, so the pool gets one region that large
(its pages become resident only as tensors use them) and the pass is carved from it:
1080-1101 MB at 1024 x 1024 and 2215 instead of 2937-2955 MB at 2048 x 2048, at the same
speed (docs/stylize.md). A region's bookkeeping costs about 3 % of its size (8 bytes per
256 bytes).
"""

from __future__ import annotations

import os
import weakref

import keras
import numpy as np

_BYTES_PER_PIXEL: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_MIN_RESERVATION = 256 * 2**20  # smaller passes fit in what the pool already holds
_reserved = 0  # the largest reservation made in this process, bytes
WHOLE_PASS_FACTOR = 1.75
# A tile pass also holds the features whose sums give the shared statistics: 517 bytes per
# tile pixel measured for the Johnson network (float32, 6 MP) against 360-400 per pixel
# for a whole-image pass.
TILE_PASS_OVERHEAD = 1.45


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
    precision: in bfloat16 the peak was as high as in float32 (casts and the float32
    normalization statistics keep float32 maps alive). Use it on the model inference runs
    (`inference.with_precision`). Measured with a pool reservation (`reserve_for`; 1 and
    4 MP, float32 and bfloat16): the Johnson network's estimate is 508 bytes per pixel
    against 360-412 used, the texture network's 693 against 518-617 (docs/stylize.md)."""
    if generator not in _BYTES_PER_PIXEL:
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
        _BYTES_PER_PIXEL[generator] = WHOLE_PASS_FACTOR * 4 * peak
    return _BYTES_PER_PIXEL[generator]


def reserve_for(generator: keras.Model, pixels: int) -> int:
    """Reserves TensorFlow's CPU memory pool for a whole-image pass of `generator` over
    `pixels` input pixels (batch included): one uninitialised tensor of the pass's
    estimated peak (`activation_bytes_per_pixel`) is allocated and released at once, so
    the pool holds one region at least that large (see the module docstring). Does
    nothing for passes under 256 MB (0.5 MP for the Johnson network), when an earlier
    reservation was as large, or on a GPU machine (the pass runs in the GPU's own pool).
    The size is capped at half the physical memory and a refused allocation is ignored:
    the pass then grows the pool as it would anyway. Tiled passes do not use it: their
    tiles all have one shape, so the pool reuses its blocks already, and a reservation
    raised the peak of some tiled runs (docs/stylize.md).
    Returns the bytes reserved (0 if nothing was done)."""
    global _reserved
    import tensorflow as tf

    wanted = int(pixels * activation_bytes_per_pixel(generator))
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
