"""The JSON bodies of API version 1, one module per resource, on a shared base (``base``) with
shared input checks (``inputs``). Field and model names are public vocabulary (docs/adr/0004,
the readiness contract): a new field is compatible, a renamed or removed one needs ``/api/v2``.
Import from the modules; this package itself holds nothing.
"""
