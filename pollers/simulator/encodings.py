"""Bodies as real servers send them: compressed with each content coding, and compression bombs.

A bomb is built once per (coding, size) and kept: a 1 GiB gzip bomb is about 1 MiB. gzip and
deflate bombs are assembled from one full-flushed block of zeros repeated, so making one takes
a fraction of a second instead of compressing a gigabyte.
"""

from __future__ import annotations

import struct
import threading
import zlib
from functools import cache

import brotli
import zstandard

BLOCK = 1024 * 1024
_bomb_lock = threading.Lock()


def encode(body: bytes, coding: str) -> bytes:
    if coding == "gzip":
        compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        return compressor.compress(body) + compressor.flush()
    if coding == "deflate":  # RFC 9110's deflate: the zlib format
        return zlib.compress(body)
    if coding == "deflate-raw":  # what some servers send as "deflate": no zlib wrapper
        compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
        return compressor.compress(body) + compressor.flush()
    if coding == "br":
        return bytes(brotli.compress(body))
    if coding == "zstd":
        return bytes(zstandard.ZstdCompressor().compress(body))
    return body


def header_value(coding: str) -> str:
    return "deflate" if coding == "deflate-raw" else coding


def bomb(coding: str, size: int) -> bytes:
    with _bomb_lock:  # one build at a time: concurrent first requests wait for it instead of repeating it
        return _bomb(coding, size)


@cache
def _bomb(coding: str, size: int) -> bytes:
    blocks, rest = divmod(size, BLOCK)
    if coding in ("gzip", "deflate", "deflate-raw"):
        return _zlib_bomb(coding, blocks, rest)
    if coding == "br":
        compressor = brotli.Compressor(quality=1)
        zeros = bytes(BLOCK)
        parts = [compressor.process(zeros) for _ in range(blocks)]
        parts.append(compressor.process(bytes(rest)))
        parts.append(compressor.finish())
        return b"".join(parts)
    if coding == "zstd":
        stream = zstandard.ZstdCompressor(level=1).compressobj()
        zeros = bytes(BLOCK)
        parts = [stream.compress(zeros) for _ in range(blocks)]
        parts.append(stream.compress(bytes(rest)))
        parts.append(stream.flush())
        return b"".join(parts)
    return bytes(size)


def _zlib_bomb(coding: str, blocks: int, rest: int) -> bytes:
    # After a full flush the compressor forgets its history, so every block of BLOCK zeros that
    # follows one compresses to the same bytes: compress one, repeat it.
    raw = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    first = raw.compress(bytes(BLOCK)) + raw.flush(zlib.Z_FULL_FLUSH)
    tail_block = raw.compress(bytes(rest)) + raw.flush()
    deflated = first * blocks + tail_block
    size = blocks * BLOCK + rest
    crc = adler = None
    zeros = bytes(BLOCK)
    if coding == "gzip":
        crc = 0
        for _ in range(blocks):
            crc = zlib.crc32(zeros, crc)
        crc = zlib.crc32(bytes(rest), crc)
        header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
        return header + deflated + struct.pack("<II", crc & 0xFFFFFFFF, size & 0xFFFFFFFF)
    if coding == "deflate":
        adler = 1
        for _ in range(blocks):
            adler = zlib.adler32(zeros, adler)
        adler = zlib.adler32(bytes(rest), adler)
        return b"\x78\xda" + deflated + struct.pack(">I", adler & 0xFFFFFFFF)
    return deflated
