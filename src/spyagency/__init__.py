"""Spy-Agency: watches the CMS Prompt Calibration Loop and tells the Tier-0 when a run is ready."""

__version__ = "0.1.0"
