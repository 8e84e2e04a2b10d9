"""Hostile files built cheaply in the tests: a decompression bomb PNG and an MJPEG AVI whose
frame size changes mid-stream (no encoder keeps one stream at two sizes, so it is written
by hand)."""

from __future__ import annotations

import struct
import zlib

import numpy as np


def png_bomb(width: int, height: int, channels: int = 1) -> bytes:
    """A PNG of ``width`` x ``height`` zeros: 8-bit gray (``channels=1``, 0.4 MB at
    20000x20000) or RGB (3, 1.2 MB), compressed a band of rows at a time, so that building
    it holds 16 MB, not the gigabytes it decodes to."""
    row = 1 + width * channels  # a filter byte, then the row
    band = bytes(row * max(1, (1 << 24) // row))
    deflate, parts, left = zlib.compressobj(9), [], height
    while left:
        rows = min(left, len(band) // row)
        parts.append(deflate.compress(band[: rows * row]))
        left -= rows
    parts.append(deflate.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, {1: 0, 3: 2}[channels], 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", b"".join(parts))
            + _png_chunk(b"IEND", b""))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def mjpeg_avi(frames: list[np.ndarray], fps: int = 10) -> bytes:
    """An AVI of the RGB ``frames`` as JPEG images (MJPEG), each at its own size; the
    headers give the first frame's size, as a camera that switched resolution writes them."""
    import cv2

    jpegs = [cv2.imencode(".jpg", np.ascontiguousarray(f[:, :, ::-1]))[1].tobytes() for f in frames]
    h, w = frames[0].shape[:2]
    avih = struct.pack("<14I", 1_000_000 // fps, 0, 0, 0x10, len(jpegs), 0, 1, 0, w, h, 0, 0, 0, 0)
    strh = struct.pack("<4s4sIHHIIIIIIIIhhhh", b"vids", b"MJPG", 0, 0, 0, 0, 1, fps, 0, len(jpegs), 0,
                       0xFFFFFFFF, 0, 0, 0, w, h)
    strf = struct.pack("<IiiHH4sIiiII", 40, w, h, 1, 24, b"MJPG", w * h * 3, 0, 0, 0, 0)
    stream = _riff_list(b"strl", _riff(b"strh", strh) + _riff(b"strf", strf))
    header = _riff_list(b"hdrl", _riff(b"avih", avih) + stream)
    movi, index, offset = b"", b"", 4
    for jpeg in jpegs:
        chunk = _riff(b"00dc", jpeg)
        index += b"00dc" + struct.pack("<III", 0x10, offset, len(jpeg))  # a key frame at this offset
        movi, offset = movi + chunk, offset + len(chunk)
    body = b"AVI " + header + _riff_list(b"movi", movi) + _riff(b"idx1", index)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _riff(fourcc: bytes, data: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(data)) + data + b"\0" * (len(data) % 2)


def _riff_list(kind: bytes, body: bytes) -> bytes:
    return _riff(b"LIST", kind + body)
