"""The agency's configuration, in two parts: what can be set (``config.settings``: the models,
their defaults and bounds) and how it is read (``config.loading``: the TOML file, the
environment overrides and the error report). Import from those modules; this package itself
holds nothing.
"""
