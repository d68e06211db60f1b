"""FHIR R4 reads of the immunization records at ``/fhir/{tenant}`` (docs/fhir.md).

``codes.py`` (code systems, our codes as codings), ``shapes.py`` (the resources, each
validated by its ``fhir.resources`` model), ``reads.py`` (the use cases: authorized,
scoped, audited), ``api.py`` (the routes, and errors as OperationOutcome).
"""
