"""Content codings (gzip, deflate, br, zstd) decoded while the body streams in, in bounded steps.

urllib3 can decode too, but one of its reads may inflate a whole socket buffer at once: 64 KiB
of gzip is 64 MiB of zeros, of zstd gigabytes. Here every decoder hands out its output in
pieces of at most ``STEP`` bytes (zstd: a bounded multiple, see ``ZstdDecoder``), so the caller
counts decoded bytes against its limit and stops a compression bomb after the first piece over
it, whatever the ratio.

Errors are ``DecodingError`` with a short ``kind``: ``bad_encoding`` for a body that does not
match its ``Content-Encoding`` (or names one we did not offer).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import brotli
import zstandard

STEP = 64 * 1024  # the most a decoder hands out per piece
# RFC 9659: a zstd Content-Encoding uses at most an 8 MB window; a frame asking for more is refused
# instead of making the decoder allocate up to 128 MiB for it.
ZSTD_MAX_WINDOW = 8 * 1024 * 1024
# zstd has no output cap per call: an RLE block of 4 bytes expands to 128 KiB, so input is fed in
# slices this small (at most 2 MiB out per call).
ZSTD_SLICE = 64


class DecodingError(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class Decoder(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]:
        """Decode ``data``; yield the output in bounded pieces."""

    def finish(self) -> Iterator[bytes]:
        """The input has ended: yield what is left, raise DecodingError if the stream is incomplete."""


def _bad(coding: str, what: str = "does not match") -> DecodingError:
    return DecodingError("bad_encoding", f"the body {what} its Content-Encoding ({coding})")


class IdentityDecoder:
    def feed(self, data: bytes) -> Iterator[bytes]:
        for start in range(0, len(data), STEP):
            yield data[start : start + STEP]

    def finish(self) -> Iterator[bytes]:
        yield from ()


class ZlibDecoder:
    """gzip (several members in a row, as RFC 1952 allows) and deflate (zlib-wrapped as RFC 9110 says,
    or raw, as some servers send it: told apart by the zlib header)."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self.gzip = coding == "gzip"
        self.decompressor: Any = zlib.decompressobj(16 + zlib.MAX_WBITS) if self.gzip else None
        self.head = b""  # deflate: the first bytes, until the two that tell zlib from raw deflate arrive
        self.fed = False
        self.done = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self.decompressor is None:
            self.head += data
            if len(self.head) < 2:
                return
            cmf, flg = self.head[0], self.head[1]
            zlib_wrapped = cmf & 0x0F == 8 and (cmf << 8 | flg) % 31 == 0
            self.decompressor = zlib.decompressobj(zlib.MAX_WBITS if zlib_wrapped else -zlib.MAX_WBITS)
            data, self.head = self.head, b""
        self.fed = self.fed or bool(data)
        pending = data
        while pending:
            if self.done:
                if not (self.gzip and pending.strip(b"\0")):
                    return  # zero padding after gzip, or bytes after the deflate stream: ignored, as urllib3 does
                self.decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)  # the next gzip member
                self.done = False
            try:
                out = self.decompressor.decompress(pending, STEP)
            except zlib.error:
                raise _bad(self.coding) from None
            if out:
                yield out
            if self.decompressor.eof:
                self.done = True
                pending = self.decompressor.unused_data
            else:
                pending = self.decompressor.unconsumed_tail

    def finish(self) -> Iterator[bytes]:
        if self.done or not (self.fed or self.head):
            return  # complete, or an empty body (left to the JSON parser to refuse)
        if self.decompressor is None:
            raise _bad(self.coding, "ends before the end of")
        try:
            out = self.decompressor.flush()
        except zlib.error:
            raise _bad(self.coding) from None
        if out:
            yield out
        if not self.decompressor.eof:
            raise _bad(self.coding, "ends before the end of")


class BrotliDecoder:
    def __init__(self) -> None:
        self.decompressor: Any = brotli.Decompressor()
        self.fed = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        self.fed = self.fed or bool(data)
        try:
            yield self.decompressor.process(data, output_buffer_limit=STEP)
            while not self.decompressor.can_accept_more_data():
                yield self.decompressor.process(b"", output_buffer_limit=STEP)
        except brotli.error:
            raise _bad("br") from None

    def finish(self) -> Iterator[bytes]:
        if self.fed and not self.decompressor.is_finished():
            raise _bad("br", "ends before the end of")
        yield from ()


class ZstdDecoder:
    def __init__(self) -> None:
        self.context: Any = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
        self.decompressor: Any = self.context.decompressobj()
        self.fed = False
        self.done = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        self.fed = self.fed or bool(data)
        view = memoryview(data)
        for start in range(0, len(view), ZSTD_SLICE):
            piece = bytes(view[start : start + ZSTD_SLICE])
            while piece:
                if self.done:  # the next frame (RFC 8878 allows several)
                    self.decompressor = self.context.decompressobj()
                    self.done = False
                try:
                    out = self.decompressor.decompress(piece)
                except zstandard.ZstdError:
                    raise _bad("zstd") from None
                if out:
                    yield out
                piece = b""
                if self.decompressor.eof:
                    self.done = True
                    piece = self.decompressor.unused_data

    def finish(self) -> Iterator[bytes]:
        if self.fed and not self.done:
            raise _bad("zstd", "ends before the end of")
        yield from ()


# Exactly the codings the decoders below undo (urllib3 would offer whatever it finds installed).
SUPPORTED_CODINGS = ("gzip", "deflate", "br", "zstd")
ACCEPT_ENCODING = ", ".join(SUPPORTED_CODINGS)


def parse_content_encoding(header: str | None) -> list[str]:
    """The codings in the order they were applied, ``identity`` dropped, ``x-gzip`` read as gzip."""
    codings = []
    for item in (header or "").split(","):
        coding = item.strip().lower()
        if coding in ("", "identity"):
            continue
        codings.append("gzip" if coding == "x-gzip" else coding)
    return codings


def _decoder_for(coding: str) -> Decoder:
    if coding in ("gzip", "deflate"):
        return ZlibDecoder(coding)
    if coding == "br":
        return BrotliDecoder()
    if coding == "zstd":
        return ZstdDecoder()
    raise DecodingError("bad_encoding", f"the body is encoded with {coding[:40]!r}, which the poller did not ask for")


class Pipeline:
    """The decoders for a Content-Encoding, undone last-applied first."""

    def __init__(self, codings: Sequence[str]) -> None:
        self.decoders: list[Decoder] = [_decoder_for(coding) for coding in reversed(codings)]

    @classmethod
    def for_header(cls, header: str | None) -> Pipeline:
        return cls(parse_content_encoding(header))

    @property
    def identity(self) -> bool:
        return not self.decoders

    def feed(self, data: bytes) -> Iterator[bytes]:
        return self._through(0, data)

    def finish(self) -> Iterator[bytes]:
        return self._finish(0)

    def _through(self, index: int, data: bytes) -> Iterator[bytes]:
        if index == len(self.decoders):
            if data:
                yield data
            return
        for piece in self.decoders[index].feed(data):
            if piece:
                yield from self._through(index + 1, piece)

    def _finish(self, index: int) -> Iterator[bytes]:
        if index == len(self.decoders):
            return
        for piece in self.decoders[index].finish():
            if piece:
                yield from self._through(index + 1, piece)
        yield from self._finish(index + 1)
