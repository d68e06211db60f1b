"""The EU DCC conformance vectors (dgc-testdata ``2DCode/raw``): every EXPECTEDRESULTS flag.

Each vector is verified at its own VALIDATIONCLOCK with its own CERTIFICATE as the only
trusted key. Flags map to the verifier's checks and decoding stages:

- EXPECTEDUNPREFIX / B45DECODE / COMPRESSION: decoding passes that stage (true) or stops
  there (false); EXPECTEDDECODE: ``checks.decode``; EXPECTEDVALIDJSON: the decoded
  certificate equals the vector's JSON;
- EXPECTEDVERIFY: ``checks.signature``; EXPECTEDEXPIRATIONCHECK: ``checks.expiry``;
  EXPECTEDSCHEMAVALIDATION: ``checks.schema``; EXPECTEDKEYUSAGE: ``checks.key_usage``;
- EXPECTEDPICTUREDECODE: zxing-cpp reads the vector's 2DCODE picture (or, for vectors
  without one, a QR code segno renders from its PREFIX) back to the PREFIX text.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import cbor2
import pytest
import segno

from tests.conftest import SHARED_TESTDATA
from vaxport.certificates.verify import SigningCertificate, TrustStore, verify, verify_image
from vaxport.certificates.verify.dcc_schema import as_json
from vaxport.certificates.verify.images import ImageError, read_qr_texts

RAW = SHARED_TESTDATA / "dcc-common" / "2DCode" / "raw"
VECTORS = sorted(RAW.glob("*.json"))
# Stages in decoding order: a vector expecting a stage to pass must not stop there or before.
STAGES = ("prefix", "base45", "compression", "cbor", "cose", "cwt")
STAGE_OF_FLAG = {
    "EXPECTEDUNPREFIX": "prefix",
    "EXPECTEDB45DECODE": "base45",
    "EXPECTEDCOMPRESSION": "compression",
}


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text("utf-8"))


def _context(vector: dict[str, Any]) -> tuple[TrustStore, dt.datetime]:
    ctx = vector["TESTCTX"]
    trust = TrustStore()
    trust.add_dsc(SigningCertificate.from_der(base64.b64decode(ctx["CERTIFICATE"])))
    at = dt.datetime.fromisoformat(ctx["VALIDATIONCLOCK"].replace("Z", "+00:00"))
    return trust, at


def test_the_vectors_are_all_there() -> None:
    assert len(VECTORS) == 38, [p.name for p in VECTORS]


@pytest.mark.parametrize("path", VECTORS, ids=[p.stem for p in VECTORS])
def test_vector_meets_every_expected_result(path: Path) -> None:
    vector = _load(path)
    expected: dict[str, bool] = vector["EXPECTEDRESULTS"]
    trust, at = _context(vector)
    result = verify(vector.get("PREFIX", ""), trust=trust, at=at)
    checks = result.checks
    for flag, want in expected.items():
        if flag in STAGE_OF_FLAG:
            stage = STAGE_OF_FLAG[flag]
            if want:
                assert result.stage is None or STAGES.index(result.stage) > STAGES.index(stage), (
                    flag,
                    result.stage,
                    result.reason,
                )
            else:
                assert result.stage == stage, (flag, result.stage, result.reason)
                assert checks["decode"] is False
        elif flag == "EXPECTEDDECODE":
            assert checks["decode"] is want, (flag, result.reason)
        elif flag == "EXPECTEDVALIDJSON":
            assert want
            assert checks["decode"] is True
            _assert_same_certificate(vector)
        elif flag == "EXPECTEDVERIFY":
            # A message that does not decode is not verified either.
            assert (checks["signature"] is True) is want, (flag, result.reason)
        elif flag == "EXPECTEDEXPIRATIONCHECK":
            assert checks["expiry"] is want, (flag, result.reason)
        elif flag == "EXPECTEDSCHEMAVALIDATION":
            assert checks["schema"] is want, (flag, result.reason)
        elif flag == "EXPECTEDKEYUSAGE":
            assert checks["key_usage"] is want, (flag, result.reason)
        elif flag == "EXPECTEDPICTUREDECODE":
            _assert_picture(vector, want)
        else:
            pytest.fail(f"unmapped flag {flag}")
    if all(expected.values()) and {"EXPECTEDVERIFY", "EXPECTEDEXPIRATIONCHECK"} <= set(expected):
        assert result.valid, result.reason


def _assert_same_certificate(vector: dict[str, Any]) -> None:
    # The JSON stage: what the CBOR says is the certificate the vector describes.
    decoded = as_json(cbor2.loads(bytes.fromhex(vector["CBOR"])))
    assert decoded == vector["JSON"]


def _assert_picture(vector: dict[str, Any], want: bool) -> None:
    if "2DCODE" in vector:
        png = base64.b64decode(vector["2DCODE"])
    else:
        buffer = io.BytesIO()
        segno.make(vector["PREFIX"], error="q").save(buffer, kind="png", scale=4)
        png = buffer.getvalue()
    try:
        texts = read_qr_texts(png)
    except ImageError:
        texts = []
    if want:
        assert texts == [vector["PREFIX"]]
    else:
        assert texts != [vector.get("PREFIX")]
        # Through the verifier too: a photo it cannot read is a decoding failure.
        result = verify_image(png, trust=TrustStore())
        assert result.checks["decode"] is False
        assert result.stage == "image"
