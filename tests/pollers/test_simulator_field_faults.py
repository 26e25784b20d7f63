"""The simulator's field faults, seen by a plain HTTP client: encodings, bombs, deep JSON, charsets, 304, 401."""

from __future__ import annotations

import base64
import codecs
import gzip
import http.client
import json
import zlib
from typing import Any

import brotli
import pytest
import zstandard

from pollers.simulator.faults import Fault, FaultError
from pollers.simulator.server import NON_ASCII_NOTE
from tests.simulator import RunningSimulator, control


def get(
    simulator: RunningSimulator, path: str, headers: dict[str, str] | None = None, limit: int | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(simulator.host, simulator.port, timeout=10)
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    body = response.read(limit) if limit else response.read()
    conn.close()
    return response.status, dict(response.getheaders()), body


DECODE = {
    "gzip": gzip.decompress,
    "deflate": zlib.decompress,
    "deflate-raw": lambda data: zlib.decompress(data, -zlib.MAX_WBITS),
    "br": brotli.decompress,
    "zstd": lambda data: zstandard.ZstdDecompressor().decompress(data),
}


def test_it_refuses_field_faults_it_cannot_act_on() -> None:
    with pytest.raises(FaultError, match="unknown coding"):
        Fault.parse({"fault": "encoding", "coding": "lzma"})
    with pytest.raises(FaultError, match="unknown charset"):
        Fault.parse({"fault": "charset", "charset": "klingon"})
    with pytest.raises(FaultError, match="needs a token"):
        Fault.parse({"fault": "auth"})
    with pytest.raises(FaultError, match="depth must be"):
        Fault.parse({"fault": "deep", "depth": "0"})


@pytest.mark.parametrize("coding", sorted(DECODE))
def test_it_compresses_the_document_with_each_coding(simulator: RunningSimulator, coding: str) -> None:
    plain = json.loads(get(simulator, "/status/us-east?stats=1")[2])
    status, headers, body = get(simulator, f"/status/us-east?stats=1&fault=encoding&coding={coding}")
    assert status == 200
    assert headers["Content-Encoding"] == ("deflate" if coding == "deflate-raw" else coding)
    assert json.loads(DECODE[coding](body)) == plain


def test_it_declares_an_encoding_it_does_not_use(simulator: RunningSimulator) -> None:
    status, headers, body = get(simulator, "/status/us-east?fault=bad_encoding&coding=br")
    assert (status, headers["Content-Encoding"]) == (200, "br")
    assert json.loads(body)["status"]  # plain JSON behind a "br" label


def test_it_serves_a_gigabyte_of_zeros_in_about_a_megabyte(simulator: RunningSimulator) -> None:
    status, headers, body = get(simulator, "/status/us-east?fault=bomb")
    assert (status, headers["Content-Encoding"]) == (200, "gzip")
    assert len(body) < 2 * 1024 * 1024
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    total, pending = 0, body
    while pending:
        total += len(inflater.decompress(pending, 16 * 1024 * 1024))
        pending = inflater.unconsumed_tail
    assert total == 1024**3
    _, headers, _ = get(simulator, "/status/us-east?fault=bomb&coding=zstd&size=1000000&declare=0")
    assert "Content-Length" not in headers


def test_it_nests_json_as_deep_as_asked(simulator: RunningSimulator) -> None:
    body = get(simulator, "/status/us-east?fault=deep&depth=1000")[2]
    assert body.startswith(b'{"deep": [[[')
    assert body.count(b"[") == body.count(b"]") == 1000


@pytest.mark.parametrize(
    ("query", "mark", "content_type"),
    [
        ("charset=utf-16", codecs.BOM_UTF16_LE, "application/json; charset=utf-16"),
        ("charset=utf-16-be&bom=1&declare=0", codecs.BOM_UTF16_BE, "application/json"),
        ("charset=utf-8&bom=1", codecs.BOM_UTF8, "application/json; charset=utf-8"),
        ("charset=iso-8859-1&label=utf-8", b"", "application/json; charset=utf-8"),
    ],
)
def test_it_encodes_the_document_in_a_charset(
    simulator: RunningSimulator, query: str, mark: bytes, content_type: str
) -> None:
    status, headers, body = get(simulator, f"/status/us-east?fault=charset&{query}")
    assert status == 200
    assert headers["Content-Type"] == content_type
    assert body.startswith(mark)
    if "label" not in query:
        assert json.loads(body.decode(query.split("=")[1].split("&")[0]).lstrip("\ufeff"))["note"] == NON_ASCII_NOTE


def test_it_answers_304_to_a_matching_validator(simulator: RunningSimulator) -> None:
    status, headers, body = get(simulator, "/status/us-east?fault=etag")
    assert status == 200
    etag, last_modified = headers["ETag"], headers["Last-Modified"]
    for conditional in ({"If-None-Match": etag}, {"If-None-Match": f"W/{etag}"}, {"If-Modified-Since": last_modified}):
        status, headers, body = get(simulator, "/status/us-east?fault=etag", conditional)
        assert (status, body, headers["ETag"]) == (304, b"", etag), conditional
    assert get(simulator, "/status/us-east?fault=etag", {"If-None-Match": '"stale"'})[0] == 200
    simulator.advance(1)
    assert get(simulator, "/status/us-east?fault=etag", {"If-None-Match": etag})[0] == 200


def test_it_demands_credentials(simulator: RunningSimulator) -> None:
    basic = "/status/us-east?fault=auth&username=ops&password=s3cret"
    status, headers, _ = get(simulator, basic)
    assert (status, headers["WWW-Authenticate"]) == (401, 'Basic realm="simulator"')
    good = "Basic " + base64.b64encode(b"ops:s3cret").decode()
    assert get(simulator, basic, {"Authorization": good})[0] == 200
    assert get(simulator, basic, {"Authorization": "Basic " + base64.b64encode(b"ops:guess").decode()})[0] == 401
    bearer = "/status/us-east?fault=auth&token=tkn-1"
    assert get(simulator, bearer)[0] == 401
    assert get(simulator, bearer, {"Authorization": "Bearer tkn-1"})[0] == 200


def test_it_takes_field_faults_from_the_control_api(simulator: RunningSimulator) -> None:
    fault: dict[str, Any] = {"kind": "encoding", "coding": "zstd", "times": 1}
    assert control(simulator.base_url, "POST", "/_control/faults/eu-west", fault)[0] == 200
    assert get(simulator, "/status/eu-west")[1].get("Content-Encoding") == "zstd"
    assert "Content-Encoding" not in get(simulator, "/status/eu-west")[1]
