"""The configuration check certificates add to tenancy's (handed over by the wiring).

An EU DCC states a vaccination by the value-set codes of its product (the catalogue's
``dcc``). With ``eu-dcc`` enabled, a product without them gets no DCC: that is expected
for diseases no EU DCC covers (measles, HPV: their doses are on the SMART Health Card
and the PDF), but a product of a disease that other products certify by EU DCC would
leave its people without one. The check names each such product, and refuses
``eu-dcc`` when no product at all has codes.
"""

from __future__ import annotations

from collections.abc import Iterator

from vaxport.tenancy.service import ConfigProblem, TenantConfig


def check_dcc_codes(config: TenantConfig) -> Iterator[ConfigProblem]:
    """The products that lack EU DCC codes where ``eu-dcc`` needs them."""
    if "eu-dcc" not in config.certificates.formats:
        return
    covered = {p.disease for p in config.vaccines if p.dcc is not None}
    if not covered:
        names = ", ".join(p.id for p in config.vaccines)
        yield ConfigProblem(
            "certificates.formats",
            f"eu-dcc is enabled but no product has EU DCC codes (dcc): {names}",
        )
        return
    for i, product in enumerate(config.vaccines):
        if product.dcc is None and product.disease in covered:
            yield ConfigProblem(
                f"vaccines.{i}.dcc",
                f"product {product.id} lacks EU DCC codes (dcc) while other {product.disease} "
                "products have them: its doses would get no EU DCC",
            )
