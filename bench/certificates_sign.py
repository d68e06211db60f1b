"""Measure certificate signing: EU DCC and SMART Health Card encode + sign per second.

    PYTHONPATH=src python bench/certificates_sign.py [--seconds 3] [--doses 3]

One process, one core (as one worker's issuance subscriber runs). For each format, the
whole pure path a certificate takes once its holder and doses are known: DCC JSON, CWT,
COSE_Sign1 (ES256), zlib, Base45 for every dose; the SHC bundle, payload, raw DEFLATE,
JWS (ES256) and the numeric QR text. Then the QR PNGs, which pages render on demand.
Keys are made in memory: the key provider is not on this path (signers are cached).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric import ec

from vaxport.certificates import dcc, pki, qr, shc
from vaxport.certificates.content import DccCodes, Dose, Holder

NOW = dt.datetime.now(dt.UTC)
CODES = DccCodes("840539006", "1119349007", "EU/1/20/1528", "ORG-100030215")


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``fn`` over about ``seconds`` (after a short warm-up)."""
    for _ in range(20):
        fn()
    n, t0 = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < seconds:
        for _ in range(50):
            fn()
        n += 50
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--doses", type=int, default=3)
    args = parser.parse_args()

    csca = pki.make_csca(country="SE", organisation="Bench", common_name="CSCA", days=3650, now=NOW)
    made = pki.make_dsc(csca, common_name="DSC", days=365, now=NOW)
    dsc = dcc.DccSigner(
        dcc.kid_of(made.der), made.private_key, made.certificate.not_valid_after_utc
    )
    card_key = ec.generate_private_key(ec.SECP256R1())
    card = shc.ShcSigner("k" * 43, card_key, b"s" * 32)
    person = Holder(
        "0193a6f0-0000-7000-8000-000000000001", "Öberg-Åström", "Märta Li", dt.date(1964, 1, 1)
    )
    doses = [
        Dose(
            "CoviGuard mRNA",
            i,
            2,
            dt.date(2026, 1, i),
            "SE",
            CODES,
            "208",
            f"LOT{i}",
            "Centre Nord",
        )
        for i in range(1, args.doses + 1)
    ]
    issuer = dcc.DccIssuer("SE", "Ministry of Health", "VAX/")
    validity = dt.timedelta(days=365)

    def one_dcc() -> object:
        return dcc.encode_all(
            person, doses[-1:], signer=dsc, issuer=issuer, issued_at=NOW, validity=validity
        )

    def all_dccs() -> object:
        return dcc.encode_all(
            person, doses, signer=dsc, issuer=issuer, issued_at=NOW, validity=validity
        )

    def one_card() -> object:
        jws = shc.encode(
            person,
            doses,
            signer=card,
            iss="https://example.org/shc/se",
            issued_at=NOW,
            validity=validity,
        )
        return shc.qr_text(jws)

    hc1 = one_dcc()[0].text  # type: ignore[index]
    card_text = one_card()
    rows = [
        ("DCC, one dose (encode + sign)", rate(one_dcc, args.seconds), 1),
        (f"DCC, {args.doses} doses (one DCC each)", rate(all_dccs, args.seconds), args.doses),
        (f"SHC, {args.doses} doses (encode + sign + QR text)", rate(one_card, args.seconds), 1),
        ("DCC QR PNG", rate(lambda: qr.png(qr.dcc_qr(hc1)), args.seconds / 3), 1),
        ("SHC QR PNG", rate(lambda: qr.png(qr.shc_qr(str(card_text))), args.seconds / 3), 1),
    ]
    print(f"{'operation':<44} {'calls/s':>9} {'signatures/s':>13}")
    for name, per_second, signatures in rows:
        sig = f"{per_second * signatures:13.0f}" if "PNG" not in name else f"{'-':>13}"
        print(f"{name:<44} {per_second:9.0f} {sig}")


if __name__ == "__main__":
    main()
