"""``pv-survey batch``: many scenarios, one output folder each, and a comparison table."""

from __future__ import annotations

import sys

import click

from . import cli
from .options import overwrite_opt, scheduler_opt, workers_opt


@cli.command("batch")
@click.argument("scenarios", nargs=-1, required=True, type=click.Path(exists=False))
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Batch folder: one sub-folder per scenario, comparison.csv and comparison.md.")
@workers_opt
@scheduler_opt
@overwrite_opt
def batch_cmd(scenarios, out_dir, workers, scheduler, overwrite):
    """Run several scenarios and compare their targets and totals.

    SCENARIOS are scenario TOML files, folders of them, or parameter-matrix files: a TOML file
    with a [matrix] table of "section.field" = [values ...] (and optional base = "file.toml",
    name = "prefix"), expanded to every combination. Finished scenarios (same config and
    inputs in their manifest.json) are skipped, so re-running finishes an interrupted batch.
    A failing scenario is reported and the others still run; the exit code is then 2.
    """
    from ..batch import load_scenarios, run_batch
    from .console import Progress as _Progress, captured_native_output, quiet

    items = load_scenarios(scenarios)
    silent = quiet()  # -q: errors (at the end) and where the outputs are, nothing else
    if not silent:
        click.echo(f"{len(items)} scenarios -> {out_dir}/", err=True)
    progress = _Progress()

    def report(outcome, k, n):
        progress.close()
        progress.stage = None
        if silent:
            return
        note = f": {outcome.error}" if outcome.error else ""
        click.echo(f"[{k}/{n}] {outcome.name}: {outcome.status} ({outcome.seconds:.1f} s){note}", err=True)

    try:
        with captured_native_output():  # HiGHS prints to stdout from C++; the console stays readable
            result = run_batch(items, out_dir=out_dir, workers=workers, scheduler=scheduler, overwrite=overwrite,
                               progress=progress, on_scenario=report)
    finally:
        progress.close()
    counts = {s: sum(o.status == s for o in result.outcomes) for s in ("done", "skipped", "failed")}
    if silent:
        click.echo(f"{result.paths['comparison.csv'].parent}/")
    else:
        click.echo(f"{counts['done']} run, {counts['skipped']} already finished, {counts['failed']} failed; "
                   f"comparison in {result.paths['comparison.csv']} and {result.paths['comparison.md'].name}")
    if result.failed:
        for o in result.failed:
            click.echo(f"Error: scenario {o.name}: {o.error}", err=True)
        sys.exit(2)
