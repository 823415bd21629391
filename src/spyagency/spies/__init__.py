"""One adapter per upstream system: fetch, parse, validate, and report typed observations.

Spies never write the store and never raise out of ``poll``: a bad answer becomes a
``SourceError`` in the report, and the engine keeps what it already knew.
"""
