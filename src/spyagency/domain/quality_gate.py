"""Whether a workflow's published quality evidence lets its proof count.

Some PCL workflows (the alignments) publish their own verdict on what they harvested: DQM
quality tests, the alignment's status bins and pede's exit message. For those the agency
does not trust a payload in the CondDB until that evidence is read for the current harvest
and is good, and a bad verdict is a failure of its own. This module reads that evidence
against the policy's gating; the lifecycle (``lifecycle``, rules 1 and 2) decides what
follows for the workflow's state.
"""

from __future__ import annotations

from spyagency.domain.catalogue import WorkflowSpec
from spyagency.domain.evidence import Evidence
from spyagency.domain.facts import DqmQuality
from spyagency.domain.knowledge import RunKnowledge
from spyagency.domain.policy import Policy
from spyagency.domain.states import DqmStatus, Source

NOT_GATED = Evidence(None, "not quality-gated: its PCL publishes no quality evidence")


def quality_gated(spec: WorkflowSpec, policy: Policy) -> bool:
    """Whether a proof of this workflow waits for its quality evidence: only a workflow whose
    PCL publishes some (the catalogue says which) and that the policy gates."""
    return spec.has_quality_evidence and policy.gated(spec.name)


def quality_verdict(
    spec: WorkflowSpec, knowledge: RunKnowledge, policy: Policy
) -> tuple[bool, Evidence | None]:
    """(bad, note): ``bad`` when the published quality evidence says the harvest is bad; the
    note says what is still missing for a gated workflow (None when its evidence is read and
    good for the current harvest)."""
    dqm = knowledge.dqm(spec.name)
    if dqm is not None and policy.gated(spec.name):
        if dqm.status is DqmStatus.ERROR:
            failed = ", ".join(dqm.failed_tests) or "quality tests"
            return True, Evidence(Source.DQM, f"ERROR: {failed}", knowledge.seen_at(dqm))
        if spec.has_quality_evidence and dqm.pede_ok is False:
            message = dqm.pede_message or "no message"
            return True, Evidence(Source.DQM, f"pede failed: {message}", knowledge.seen_at(dqm))
    if not quality_gated(spec, policy):
        return False, None
    return False, _quality_missing(spec, knowledge, dqm)


def _quality_missing(
    spec: WorkflowSpec, knowledge: RunKnowledge, dqm: DqmQuality | None
) -> Evidence | None:
    if dqm is None:
        return Evidence(Source.DQM, "quality evidence (alignment status, pede) not read yet")
    if not dqm.alignment_read:
        return Evidence(Source.DQM, "alignment statusResults bins not read")
    if dqm.pede_ok is None:
        message = dqm.pede_message if dqm.pede_message is not None else "not published"
        return Evidence(Source.DQM, f"pede exit message not understood: {message!r:.120}")
    files = knowledge.harvest_files(spec.input_tags)
    seen = knowledge.seen_at(dqm)
    if files and (seen is None or seen < files[0].created):
        return Evidence(Source.DQM, "quality evidence older than the harvest: not read for it")
    return None
