"""One adapter per upstream system: fetch, parse, validate, and report typed observations.

Spies never write the store and never raise out of ``poll``: a bad answer becomes a
``SourceError`` in the report, and the engine keeps what it already knew.
"""

from spyagency.spies.auth import (
    Auth,
    BearerToken,
    ClientCertificate,
    NoAuth,
    OidcClientCredentials,
)
from spyagency.spies.base import HttpSpy, HttpSpyOptions, Spy
from spyagency.spies.conddb import CondDbSpy, sqlite_readonly_url
from spyagency.spies.dqm import DqmSpy
from spyagency.spies.harvest_area import HarvestAreaSpy
from spyagency.spies.http import HttpSettings
from spyagency.spies.oms import OmsRunsSpy
from spyagency.spies.retry import RetryPolicy
from spyagency.spies.tier0 import T0DataServiceSpy
from spyagency.spies.upload_log import UploadLogSpy
from spyagency.spies.wmstats import WmStatsSpy

__all__ = [
    "Auth",
    "BearerToken",
    "ClientCertificate",
    "CondDbSpy",
    "DqmSpy",
    "HarvestAreaSpy",
    "HttpSettings",
    "HttpSpy",
    "HttpSpyOptions",
    "NoAuth",
    "OidcClientCredentials",
    "OmsRunsSpy",
    "RetryPolicy",
    "Spy",
    "T0DataServiceSpy",
    "UploadLogSpy",
    "WmStatsSpy",
    "sqlite_readonly_url",
]
