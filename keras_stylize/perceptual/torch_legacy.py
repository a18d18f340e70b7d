"""Read PyTorch's legacy (non-zip) tensor files without torch and without trusting pickle.

The legacy format (torch < 1.6, still read by `torch.load`) is a sequence of pickles
followed by raw storage bytes:

1. the magic number `0x1950a86a20f9469cfc6c`, 2. the protocol version (1001),
3. a system-info dict (endianness, type sizes), 4. the object itself, whose tensors are
`torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)`
with storages as persistent ids `("storage", torch.<Type>Storage, key, location, numel)`,
5. the list of storage keys, then for each key: an int64 element count and the raw
little-endian data.

`RestrictedUnpickler` accepts only the globals this needs (two torch names it maps to
local stand-ins, and `collections.OrderedDict`) and raises `RefusedGlobalError` (a
`pickle.UnpicklingError` and a `ValueError`) for anything else, so a crafted file cannot
run code. Every other malformed file (cut short, inconsistent, crafted) is a `ValueError`:
storages are bounded by the bytes actually present, a tensor by its storage's elements,
and the object tree by `MAX_OBJECTS` and `MAX_DEPTH`.
"""

from __future__ import annotations

import collections
import io
import math
import pickle
import struct
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001
MAX_OBJECTS = 100_000  # objects of the tree visited when tensors are built (shared ones each time)
MAX_DEPTH = 64  # nesting of lists, tuples and dicts


class RefusedGlobalError(pickle.UnpicklingError, ValueError):
    """The file names a global outside the allow-list (it could run code)."""


_STORAGE_DTYPES = {
    "ByteStorage": np.uint8,
    "CharStorage": np.int8,
    "ShortStorage": np.int16,
    "IntStorage": np.int32,
    "LongStorage": np.int64,
    "HalfStorage": np.float16,
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "BoolStorage": np.bool_,
}


@dataclass(frozen=True)
class _StorageType:
    dtype: Any


@dataclass
class _Storage:
    dtype: Any
    numel: int
    data: np.ndarray | None = None


@dataclass
class _TensorRef:
    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, *args):
    return _TensorRef(storage, int(storage_offset), tuple(size), tuple(stride))


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals of PyTorch's legacy tensor files."""

    def __init__(self, file: IO[bytes], storages: dict[str, _Storage] | None = None) -> None:
        super().__init__(file)
        self.storages = {} if storages is None else storages

    def find_class(self, module: str, name: str) -> Any:
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        raise RefusedGlobalError(f"refusing to load global {module}.{name}")

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r:.80}")
        storage_type, key, _location, numel = pid[1], str(pid[2]), pid[3], int(pid[4])
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError("persistent id without a known storage type")
        if key not in self.storages:
            self.storages[key] = _Storage(storage_type.dtype, numel)
        return self.storages[key]


def _check_bounds(ref: _TensorRef, available: int) -> None:
    """Raises ValueError unless every element `ref` addresses lies inside its storage."""
    if len(ref.size) != len(ref.stride):
        raise ValueError(f"tensor has size {ref.size} but stride {ref.stride}")
    if ref.offset < 0 or any(n < 0 for n in ref.size) or any(s < 0 for s in ref.stride):
        raise ValueError(
            f"tensor has a negative offset, size or stride ({ref.offset}, {ref.size}, {ref.stride})"
        )
    if 0 in ref.size:
        return
    if math.prod(ref.size) > available:  # e.g. a zero stride repeating a few elements
        raise ValueError(
            f"tensor of size {ref.size} has more elements than its storage ({available})"
        )
    last = ref.offset + sum((n - 1) * s for n, s in zip(ref.size, ref.stride, strict=True))
    if last >= available:
        raise ValueError(
            f"tensor reads element {last} of a storage with {available} elements "
            f"(offset {ref.offset}, size {ref.size}, stride {ref.stride})"
        )


def _materialize(obj: Any, depth: int = 0, visited: list[int] | None = None) -> Any:
    visited = [0] if visited is None else visited
    visited[0] += 1
    if visited[0] > MAX_OBJECTS or depth > MAX_DEPTH:
        raise ValueError(
            f"object tree larger than {MAX_OBJECTS} objects or deeper than {MAX_DEPTH} levels"
        )
    if isinstance(obj, _TensorRef):
        flat = obj.storage.data
        if flat is None:
            raise ValueError("tensor refers to a storage missing from the file")
        _check_bounds(obj, len(flat))
        itemsize = flat.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat[obj.offset :],
            shape=obj.size,
            strides=tuple(s * itemsize for s in obj.stride),
            writeable=False,
        )
        return np.array(view)
    if isinstance(obj, dict):
        return type(obj)((k, _materialize(v, depth + 1, visited)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_materialize(v, depth + 1, visited) for v in obj)
    return obj


def _remaining(file: IO[bytes]) -> int | None:
    """Bytes left in `file` from its position, or None if it cannot seek."""
    try:
        position = file.tell()
        end = file.seek(0, io.SEEK_END)
        file.seek(position)
    except (OSError, AttributeError, ValueError):
        return None
    return end - position


def load_legacy(file: IO[bytes]) -> Any:
    """Loads a legacy-format PyTorch file as NumPy arrays (tensors become `np.ndarray`).

    Offsets, sizes and strides read from the file are checked against the sizes of the
    storages they address, so a crafted file cannot make the reader touch other memory.

    Raises:
        ValueError: the file is not a legacy PyTorch file, is truncated or malformed, a
            tensor addresses elements outside its storage, a storage claims more bytes
            than the file holds, or the object tree is too large or too deep.
        RefusedGlobalError: (also a `ValueError` and a `pickle.UnpicklingError`) the file
            references a global outside the allow-list.
    """
    try:
        return _load_legacy(file)
    except ValueError:
        raise
    except (pickle.UnpicklingError, struct.error, OverflowError, EOFError, RecursionError,
            MemoryError, TypeError, IndexError, KeyError, AttributeError) as exc:  # fmt: skip
        reason = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise ValueError(
            f"malformed legacy PyTorch file ({type(exc).__name__}: {reason})"
        ) from None


def _load_legacy(file: IO[bytes]) -> Any:
    header = RestrictedUnpickler(file)
    if header.load() != MAGIC_NUMBER:
        raise ValueError("not a legacy PyTorch file (bad magic number)")
    if header.load() != PROTOCOL_VERSION:
        raise ValueError("unsupported legacy PyTorch protocol version")
    sys_info = RestrictedUnpickler(file).load()
    if not isinstance(sys_info, dict) or not sys_info.get("little_endian", False):
        raise ValueError("only little-endian legacy PyTorch files are supported")
    storages: dict[str, _Storage] = {}
    result = RestrictedUnpickler(file, storages).load()
    keys = RestrictedUnpickler(file).load()
    if not isinstance(keys, (list, tuple)):
        raise ValueError("the storage key list is not a list")
    for key in keys:
        if str(key) not in storages:
            raise ValueError(f"storage {key} is listed but no tensor uses it")
        storage = storages[str(key)]
        header_bytes = file.read(8)
        if len(header_bytes) != 8:
            raise ValueError(f"storage {key} is truncated")
        (count,) = struct.unpack("<q", header_bytes)
        if count < 0:
            raise ValueError(f"storage {key} has a negative element count")
        nbytes = count * np.dtype(storage.dtype).itemsize
        remaining = _remaining(file)
        if count != storage.numel or (remaining is not None and nbytes > remaining):
            raise ValueError(f"storage {key} is truncated or inconsistent")
        raw = file.read(nbytes)
        if len(raw) != nbytes:
            raise ValueError(f"storage {key} is truncated or inconsistent")
        storage.data = np.frombuffer(raw, dtype=np.dtype(storage.dtype).newbyteorder("<"))
    return _materialize(result)
