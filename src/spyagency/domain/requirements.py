"""Which workflows a run needs: the Tier-0 express configuration, mapped through the
catalogue, refined by the run's class, magnet and components, then by policy."""

from __future__ import annotations

from dataclasses import dataclass, field

from spyagency.domain.catalogue import Catalogue, WorkflowSpec, pcl_producers
from spyagency.domain.knowledge import RunKnowledge
from spyagency.domain.policy import Policy


@dataclass(frozen=True)
class Expectation:
    """What one run needs. ``streams`` maps each expected workflow to the streams producing it."""

    known: bool
    expected: dict[str, WorkflowSpec] = field(default_factory=dict)
    streams: dict[str, tuple[str, ...]] = field(default_factory=dict)
    not_expected: dict[str, str] = field(default_factory=dict)
    unknown_producers: tuple[str, ...] = ()
    exempt_reason: str | None = None


def expected_workflows(
    knowledge: RunKnowledge, catalogue: Catalogue, policy: Policy
) -> Expectation:
    info = knowledge.info
    configs = knowledge.express_configs
    not_expected: dict[str, str] = {}
    if info is not None and policy.exempt(info.run_class):
        reason = f"run class {info.run_class} needs no calibration (policy)"
        return Expectation(
            known=True,
            not_expected={name: reason for name in catalogue.names()},
            exempt_reason=reason,
        )
    if not configs:
        return Expectation(known=False)

    producing: dict[str, list[str]] = {}
    unknown: list[str] = []
    for config in configs:
        for producer in pcl_producers(config.producers):
            specs = catalogue.for_producer(producer)
            if not specs:
                unknown.append(producer)
            for known in specs:
                producing.setdefault(known.name, []).append(config.stream)

    expected: dict[str, WorkflowSpec] = {}
    for spec in catalogue.workflows:
        why = _why_not_needed(spec, producing, knowledge, policy)
        if why is None:
            expected[spec.name] = spec
        else:
            not_expected[spec.name] = why
    return Expectation(
        known=True,
        expected=expected,
        streams={name: tuple(sorted(producing[name])) for name in expected},
        not_expected=not_expected,
        unknown_producers=tuple(sorted(set(unknown))),
    )


def _why_not_needed(
    spec: WorkflowSpec,
    producing: dict[str, list[str]],
    knowledge: RunKnowledge,
    policy: Policy,
) -> str | None:
    if spec.name not in producing:
        return f"no stream of this run runs {spec.producer}"
    if spec.name in policy.disabled_workflows:
        return "disabled by policy"
    info = knowledge.info
    if info is None:
        return None
    if spec.needs_components and info.components:
        missing = [c for c in spec.needs_components if c not in info.components]
        if missing:
            return f"component(s) {', '.join(missing)} not in the run"
    if spec.needs_magnet_on and info.b_field is not None and info.b_field < policy.magnet_on_above:
        return f"magnet at {info.b_field:.1f} T"
    return None
