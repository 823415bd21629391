"""Asking what the agency would decide: ``replay`` and ``whatif``.

``replay`` runs a simulated scenario through the production engine in virtual time and
tables, run by run, what the agency decided against what really happened. ``whatif`` takes
the observations already in the store and judges them again under another policy, showing
the runs whose readiness would have come at another time or ended in another verdict.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from spyagency.cli.shared import ConfigOption, ScenarioOption, console, errors, store_settings
from spyagency.config.loading import ConfigError, load_settings

if TYPE_CHECKING:
    from spyagency.config.settings import Settings
    from spyagency.domain.policy import Policy


def replay(
    scenario: ScenarioOption = "quiet_day",
    step_minutes: Annotated[
        float, typer.Option(help="Simulated minutes between polls of every source.")
    ] = 10.0,
    extra_hours: Annotated[
        float, typer.Option(help="Hours simulated after the scenario ends (lock-ins).")
    ] = 50.0,
    policy: Annotated[
        Path | None, typer.Option(help="TOML file with a \\[policy] table to replay under.")
    ] = None,
    directory: Annotated[Path | None, typer.Option("--dir", help="Working directory.")] = None,
) -> None:
    """Replay a scenario through the engine in virtual time and report per run what the agency
    decided."""
    import tomllib
    from datetime import timedelta

    from rich.progress import Progress
    from rich.table import Table

    from spyagency.harness.replay import replay as run_replay

    overrides = tomllib.loads(policy.read_text("utf-8")).get("policy", {}) if policy else {}
    root = directory or Path(tempfile.mkdtemp(prefix="spyagency-replay-"))
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"replaying {scenario}", total=1.0)
        result = run_replay(
            scenario,
            root,
            step=timedelta(minutes=step_minutes),
            extra_hours=extra_hours,
            policy=overrides,
            progress=lambda done: progress.update(task, completed=done),
        )
    table = Table("run", "verdict", "released", "signal", "reasons")
    signals = {s.run: s.decided_at for s in result.signals if s.verdict.value == "ready"}
    for truth in result.truth["runs"]:
        run = truth["run"]
        verdict = result.verdicts.get(run)
        table.add_row(
            str(run),
            verdict.value if verdict else "-",
            truth["released"] or "-",
            f"{signals[run]:%m-%d %H:%M}" if run in signals else "-",
            "; ".join(result.reasons.get(run, ()))[:120],
        )
    console.print(table)
    console.print(
        f"{result.polls} polls, {result.ticks} ticks, {result.news} observations stored, "
        f"{result.wall_seconds:.1f} s; store in {root}"
    )


def whatif(
    policy: Annotated[
        Path, typer.Option(help="TOML file whose \\[policy] table is the alternative.")
    ],
    config: ConfigOption = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="List every run, not only differences.")
    ] = False,
) -> None:
    """Re-judge the stored observations under another policy and show what would have differed."""
    from rich.progress import Progress
    from rich.table import Table

    from spyagency.bootstrap import build_catalogue, build_store
    from spyagency.engine.whatif import compare_policies

    settings = store_settings(config)
    alternative = _alternative_policy(settings, policy)
    store = build_store(settings)
    with store.read() as tx:
        observations = list(tx.observations.iter_all())
        overrides = tx.overrides.all_in_force_or_expiring_after(datetime.min.replace(tzinfo=UTC))
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("re-judging", total=len(observations))
        results = compare_policies(
            observations,
            build_catalogue(settings),
            settings.policy.to_policy(),
            alternative,
            overrides,
            progress=lambda done: progress.update(task, completed=done),
        )
    table = Table("run", "ready (now)", "ready (alternative)", "final (now)", "final (alternative)")
    shown = 0
    for run, comparison in sorted(results.items()):
        if not (show_all or comparison.differs):
            continue
        shown += 1
        ready, final = comparison.ready_at, comparison.final
        table.add_row(
            str(run),
            *(f"{t:%m-%d %H:%M}" if t else "-" for t in ready),
            *(v.value if v else "-" for v in final),
        )
    console.print(table)
    console.print(f"{shown} of {len(results)} runs shown; {len(observations)} observations")


def _alternative_policy(settings: Settings, file: Path) -> Policy:
    """The ``[policy]`` table of ``file``, checked as ``config check`` checks a configuration
    (the same validation, the same catalogue checks) and refused the same way: one line per
    problem, exit code 2. The environment's ``SPYAGENCY__POLICY__*`` variables do not apply:
    the file alone is the alternative."""
    import tomllib

    from spyagency.serving import check_settings

    def refuse(problems: list[str]) -> NoReturn:
        errors.print(f"[bold red]configuration error[/]\n{file}:")
        for problem in problems:
            errors.print(f"  {problem}", markup=False, soft_wrap=True)
        raise typer.Exit(2)

    try:
        alternative = load_settings(file, environ={})
    except ConfigError as error:
        refuse(str(error).removeprefix(f"{file}: ").splitlines())
    if "policy" not in tomllib.loads(file.read_text("utf-8")):
        refuse(["policy: no [policy] table, so no alternative to compare with"])
    swapped = settings.model_copy(update={"policy": alternative.policy})
    # Only the policy's own problems: the rest is the agency's configuration, not this file.
    problems = [p for p in check_settings(swapped) if p.startswith("policy")]
    if problems:
        refuse(problems)
    try:
        return alternative.policy.to_policy()
    except ValueError as error:
        refuse([f"policy: {error}"])
