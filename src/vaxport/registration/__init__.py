"""Registration: beneficiaries (people), family accounts, de-duplication, walk-ins,
bulk imports and corrections."""
