"""The zip archive of ``deepforge.save`` and its reading, torch's zip format included.

Layout (all entries stored uncompressed, each with the zip's CRC-32)::

    archive/format      b"DEEPFORGE\\x00v2\\n"
    archive/byteorder   b"little"
    archive/data.pkl    the object, pickled; each tensor refers to a storage by key
    archive/storages    one line per storage: "key lo hi" (the byte range that was written)
    archive/data/KEY    the raw bytes of a storage
"""

from __future__ import annotations

import io
import os
import sys
import zipfile

from ._serialization_tensors import _LoadedStorage

_MAGIC = b"DEEPFORGE\x00v2\n"
_MAGIC_V1 = b"DEEPFORGE\x00v1\n"   # older files: tensor bytes inside data.pkl
_PREFIX = "archive/"


def _write(fh, payload, storages) -> None:
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        zf.writestr(_PREFIX + "format", _MAGIC)
        zf.writestr(_PREFIX + "byteorder", sys.byteorder)
        zf.writestr(_PREFIX + "data.pkl", payload)
        table = []
        for ref in storages:
            lo, hi = (ref.lo, ref.hi) if ref.hi > ref.lo else (0, 0)
            table.append(f"{ref.key} {lo} {hi}")
            zf.writestr(_PREFIX + "data/" + ref.key, memoryview(ref.raw[lo:hi]))
        zf.writestr(_PREFIX + "storages", "\n".join(table))


def _read_archive(raw: bytes):
    """(payload, storages, torch_archive) of a checkpoint; RuntimeError for anything truncated
    or corrupt. ``torch_archive`` is ``(ZipFile, prefix)`` for a ``torch.save`` file (its
    storages are read when the unpickler asks for them), else None."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
        names = zf.namelist()
        if _PREFIX + "format" not in names:
            pkl = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
            if pkl and pkl[0][: -len("data.pkl")] + "version" in names:
                prefix = pkl[0][: -len("data.pkl")]
                if prefix + "byteorder" in names:
                    _check_byteorder(zf.read(prefix + "byteorder").decode("ascii"))
                return zf.read(pkl[0]), {}, (zf, prefix)
        magic = zf.read(_PREFIX + "format")
        if magic == _MAGIC_V1:
            return zf.read(_PREFIX + "data.pkl"), {}, None
        if magic != _MAGIC:
            raise RuntimeError(f"deepforge.load: unknown checkpoint format {magic[:40]!r}")
        _check_byteorder(zf.read(_PREFIX + "byteorder").decode("ascii"))
        payload = zf.read(_PREFIX + "data.pkl")
        storages = {}
        table = zf.read(_PREFIX + "storages").decode("ascii")
        for line in filter(None, table.split("\n")):
            key, lo, hi = line.split(" ")
            lo, hi = int(lo), int(hi)
            buf = bytearray(zf.read(_PREFIX + "data/" + key))
            if len(buf) != hi - lo:
                raise RuntimeError(
                    f"deepforge.load: corrupt file: storage {key} has {len(buf)} bytes, "
                    f"expected {hi - lo}"
                )
            storages[key] = _LoadedStorage(buf, lo)
        return payload, storages, None
    except Exception as e:  # zipfile reports damage as BadZipFile, EOFError, struct.error...
        if isinstance(e, RuntimeError) and str(e).startswith("deepforge.load"):
            raise
        raise RuntimeError(
            f"deepforge.load: the file is truncated, corrupt or not a deepforge checkpoint "
            f"({type(e).__name__}: {e})"
        ) from None


def _check_byteorder(order: str) -> None:
    if order != sys.byteorder:
        raise RuntimeError(
            f"deepforge.load: the checkpoint was written on a {order}-endian machine; this one "
            f"is {sys.byteorder}-endian"
        )


def _read_all(f) -> bytes:
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as fh:
            return fh.read()
    if isinstance(f, (bytes, bytearray, memoryview)):
        raise TypeError("deepforge.load expects a path or a file object; wrap bytes in io.BytesIO")
    return f.read()
