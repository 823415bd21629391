"""The shipped workflow catalogue against production, as transcribed from its sources.

Snapshot read (2026-06):
- dmwm/T0 ``etc/ProdOfflineConfiguration.py`` at commit
  1a6b6cb1511f0d76ce5944778cef3b330444f991 (2026-05-26): the ``alca_producers`` of every
  ``addExpressConfig`` stream.
- cms-sw/cmssw ``CondFormats/Common/data/<record>_prod.json``: ``inputTag`` and
  ``destinationTags``; the blob commit read of each file is in ``PROD_JSON`` below. Files the
  index did not hold (BeamSpot by run/lumi and HP by run, SiStripBadStripRcd, SiPixelQuality
  stuckTBM, EcalPedestals) are not checked here.
- cms-sw/cmssw ``Alignment/CommonAlignmentProducer/python/
  AlcaSiPixelAliHarvesterHLTHGCombined_cff.py`` at 0b35058a74a8ae1ce58e76fd0ccd1fc6f45d6bbf:
  the HLT HG combined alignment's DQM folder (``outputFolder``).

When production moves, transcribe the new values here first, then fix the catalogue.
"""

from __future__ import annotations

from spyagency.domain.catalogue import load_catalogue, pcl_producers

# dmwm/T0 etc/ProdOfflineConfiguration.py: stream -> alca_producers (PCL producers only; the
# other AlCa skims share the list and are not calibrations).
EXPRESS_STREAMS: dict[str, tuple[str, ...]] = {
    "Express": (
        "PromptCalibProd",
        "PromptCalibProdSiStrip",
        "PromptCalibProdSiPixelAli",
        "PromptCalibProdSiStripGains",
        "PromptCalibProdSiStripGainsAAG",
        "PromptCalibProdSiPixel",
        "PromptCalibProdSiPixelLA",
        "PromptCalibProdSiStripHitEff",
        "PromptCalibProdSiPixelAliHG",
        "PromptCalibProdSiPixelAliHGComb",
    ),
    "ExpressCosmics": (
        "PromptCalibProdSiStrip",
        "PromptCalibProdSiPixelLAMCS",
        "PromptCalibProdSiStripLA",
    ),
    "HLTMonitor": ("PromptCalibProdSiPixelAliHLTHGC",),
    "CosmicHLTMonitor": (),
    "Calibration": ("PromptCalibProdEcalPedestals",),
    "ExpressAlignment": ("PromptCalibProdBeamSpotHP",),
    "ALCALumiPixelsCountsExpress": ("PromptCalibProdLumiPCC",),
    "ALCAPPSExpress": ("PromptCalibProdPPSTimingCalib", "PromptCalibProdPPSAlignment"),
    "HIExpress": (
        "PromptCalibProd",
        "PromptCalibProdSiStrip",
        "PromptCalibProdSiPixelAli",
        "PromptCalibProdSiStripGains",
        "PromptCalibProdSiStripGainsAAG",
        "PromptCalibProdSiPixel",
    ),
    "HIExpressAlignment": (),
}

# cms-sw/cmssw CondFormats/Common/data/<file>: (blob commit read, inputTag, destinationTags).
PROD_JSON: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "BeamSpotObjectsRcdHPbyLumi_prod.json": (
        "6be14afb008e2e4f63cf79916622fea302f4fd6a",
        "BeamSpotObjectHP_ByLumi",
        ("BeamSpotObjects_PCL_byLumi_v0_prompt",),
    ),
    "SiStripApvGainRcd_prod.json": (
        "964bf0cdebc1dba6f0a9803642fe6d09e4c8d517",
        "SiStripApvGain_pcl",
        ("SiStripApvGain_PCL_v0_hlt", "SiStripApvGain_PCL_v0_prompt"),
    ),
    "SiStripApvGainRcdAAG_prod.json": (
        "26aee513968f776a59a836d207afba86e4c9e5cc",
        "SiStripApvGainAAG_pcl",
        ("SiStripApvGainAfterAbortGap_PCL_v0_hlt", "SiStripApvGainAfterAbortGap_PCL_v0_prompt"),
    ),
    "SiStripBadStripFromHitEffRcd_prod.json": (
        "c15c6b05f7588642d7a031d062d50559cbf852de",
        "SiStripBadStripRcdHitEff_pcl",
        ("SiStripBadChannel_FromHitEfficiency_v0_prompt",),
    ),
    "SiStripLorentzAngleRcd_prod.json": (
        "f3548b94a39d679dc5f2674957f7f55fba713fcf",
        "SiStripLA_pcl",
        ("SiStripLorentzAngle_byPCL_v0_prompt",),
    ),
    "SiPixelAliRcd_prod.json": (
        "26aee513968f776a59a836d207afba86e4c9e5cc",
        "SiPixelAli_pcl",
        ("SiPixelAli_PCL_v0_hlt_off", "TrackerAlignment_PCL_byRun_v2_express_off"),
    ),
    # Two versions were held: d284b874 (into SiPixelAli_PCL_v0_hlt and
    # TrackerAlignment_PCL_byRun_v2_express, cmssw PR 39553, 2022) and 0756b8f8, read as the
    # later one (HG back in its own tag, cmssw PR 47059, 2025-01).
    "SiPixelAliHGRcd_prod.json": (
        "0756b8f801bbfe4f17797608322875057ecb7365",
        "SiPixelAliHG_pcl",
        ("SiPixelAliHG_PCL_v0_hlt",),
    ),
    # Two versions were held: 21073b87 (the first, cmssw PR 43794, 2024-01, with a _prompt
    # tag) and 7fd77c37, read as the later one.
    "SiPixelAliHGCombRcd_prod.json": (
        "7fd77c37d5994b526160cdbe7b6c2677af0bebec",
        "SiPixelAliHGCombined_pcl",
        ("SiPixelAliHGCombined_PCL_v0_hlt", "TrackerAlignmentHG_PCL_byRun_v2_express"),
    ),
    "SiPixelAliHLTHGCombRcd_prod.json": (
        "682845a12d1c21676537768b9fc3f93a481b4471",
        "SiPixelAliHLTHGCombined_pcl",
        ("SiPixelAliHLTHGCombined_PCL_v0_hlt",),
    ),
    "SiPixelLorentzAngleRcd_prod.json": (
        "209c05db14431503a5b41b85e23bfb4e3d638fde",
        "SiPixelLA_pcl",
        ("SiPixelLorentzAngle_byPCL_v0_prompt",),
    ),
    "SiPixelLorentzAngleRcd_MCS_prod.json": (
        "4932b001e64695b01092f349823b5f0406556485",
        "SiPixelLAMCS_pcl",
        ("SiPixelLorentzAngleMCS_byPCL_v0_prompt",),
    ),
    "SiPixelQualityFromDbRcd_prompt_prod.json": (
        "b9fae22919eb46db8c01824167e3afef6d67b529",
        "SiPixelQualityFromDbRcd_prompt",
        ("SiPixelQuality_byPCL_prompt_v2",),
    ),
    "SiPixelQualityFromDbRcd_other_prod.json": (
        "b9fae22919eb46db8c01824167e3afef6d67b529",
        "SiPixelQualityFromDbRcd_other",
        ("SiPixelQuality_byPCL_other_v1",),
    ),
    "LumiCorrections_prod.json": (
        "b9fae22919eb46db8c01824167e3afef6d67b529",
        "LumiPCCCorrections_pcl",
        ("LumiPCC_Corrections_prompt",),
    ),
    "PPSTimingCalibrationRcd_prod.json": (
        "964bf0cdebc1dba6f0a9803642fe6d09e4c8d517",
        "PPSDiamondTimingCalibration_pcl",
        ("CTPPPSTimingCalibration_HPTDC_byPCL_v1_prompt",),
    ),
    "CTPPSRPAlignmentCorrectionsDataRcd_prod.json": (
        "964bf0cdebc1dba6f0a9803642fe6d09e4c8d517",
        "CTPPSRPAlignment_real_pcl",
        ("CTPPSRPAlignment_byPCL_v1_prompt",),
    ),
}

# The pixel alignments publish MillePede evidence in their DQM folder.
ALIGNMENTS = {
    "SiPixelAli": "AlCaReco/SiPixelAli",
    "SiPixelAliHG": "AlCaReco/SiPixelAliHG",
    "SiPixelAliHGCombined": "AlCaReco/SiPixelAliHGCombined",
    "SiPixelAliHLTHGCombined": "AlCaReco/SiPixelAliHLTHGCombined",
}


def test_producers_run_on_the_streams_production_runs_them_on() -> None:
    catalogue = load_catalogue()
    for stream, producers in EXPRESS_STREAMS.items():
        listed = {s.producer for s in catalogue.workflows if stream in s.streams}
        assert listed == set(producers), stream
    known = set(EXPRESS_STREAMS)
    for spec in catalogue.workflows:
        assert set(spec.streams) <= known, spec.name


def test_every_production_pcl_producer_is_catalogued() -> None:
    catalogue = load_catalogue()
    for producers in EXPRESS_STREAMS.values():
        for producer in pcl_producers(producers):
            assert catalogue.for_producer(producer), producer


def test_input_and_destination_tags_follow_the_upload_metadata() -> None:
    catalogue = load_catalogue()
    for name, (_commit, input_tag, destinations) in PROD_JSON.items():
        spec = catalogue.by_input_tag(input_tag)
        assert spec is not None, name
        assert set(destinations) <= set(spec.destination_tags), name
        assert set(spec.destination_tags) == set(destinations) or len(spec.input_tags) > 1, name


def test_the_hlt_hg_combined_alignment() -> None:
    spec = load_catalogue().by_name("SiPixelAliHLTHGCombined")
    assert spec is not None
    assert spec.producer == "PromptCalibProdSiPixelAliHLTHGC"
    assert spec.streams == ("HLTMonitor",)
    assert spec.input_tags == ("SiPixelAliHLTHGCombined_pcl",)
    assert spec.destination_tags == ("SiPixelAliHLTHGCombined_PCL_v0_hlt",)
    # Its 6x10 grid of fraction checks has no "DB update vetoed" bin.
    assert not spec.vetoable


def test_pixel_alignments_carry_alignment_quality_in_their_folders() -> None:
    catalogue = load_catalogue()
    for name, folder in ALIGNMENTS.items():
        spec = catalogue.by_name(name)
        assert spec is not None and spec.dqm_folder == folder and spec.quality == "alignment"
    others = [s for s in catalogue.workflows if s.name not in ALIGNMENTS]
    assert all(s.quality == "none" for s in others)


def test_only_the_low_granularity_alignment_can_be_vetoed() -> None:
    """Only SiPixelAli books the "DB update vetoed" bin (MillePedeDQMModule.cc); the HG
    variants book a grid of fraction checks, so no veto can ever be read from them."""
    catalogue = load_catalogue()
    vetoable = sorted(spec.name for spec in catalogue.workflows if spec.vetoable)
    assert vetoable == ["SiPixelAli"]
