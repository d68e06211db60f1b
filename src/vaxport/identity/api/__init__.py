"""HTTP routes of identity, one module per audience."""
