"""``pv-survey demo-data``: regenerate the embedded default data byte-for-byte."""

from __future__ import annotations

import click

from . import cli
from .options import overwrite_opt


@cli.command("demo-data")
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False), default=None,
    help="Directory to write; default: the repository's data/ directory.",
)
@click.option(
    "--facts-from-epw", "epw_path", type=click.Path(exists=True, dir_okay=False), default=None,
    help="First recompute the monthly climate facts from this EPW (e.g. the Guangzhou TMYx file) "
         "and write them to OUT/guangzhou_climate_facts.toml; default: use data/guangzhou_climate_facts.toml.",
)
@click.option("--seed", type=int, default=None, help="District seed (default 20240801; another seed gives "
                                                     "another district, not the committed one).")
@overwrite_opt
def demo_data(out_dir: str | None, epw_path: str | None, seed: int | None, overwrite: bool) -> None:
    """Regenerate the synthetic Tianhe demo district and the default Guangzhou weather year.

    Writes tianhe_demo_buildings.gpkg (layer buildings), tianhe_demo_roofs.gpkg (layer
    roof_planes), guangzhou_climate_facts.toml and guangzhou_default_year.csv. The generator is
    deterministic: with the default seeds the files are byte-for-byte those committed in data/
    (on the same numpy, PROJ and GDAL versions). Files whose bytes would not change are left
    alone; different existing files are replaced only with --overwrite. See data/README.md.
    """
    from .. import demo

    facts = demo.climate_facts_from_epw(epw_path) if epw_path else None
    report = demo.write_demo_data(
        out_dir, overwrite=overwrite, seed=demo.DEFAULT_SEED if seed is None else seed, facts=facts,
    )
    for f in report.files:
        click.echo(f"{f.status:9s} {f.path}  sha256 {f.sha256[:16]}")
    counts = ", ".join(f"{k} {v}" for k, v in report.category_counts.items())
    click.echo(
        f"{report.n_buildings} buildings ({counts}); {report.n_roof_planes} roof planes; "
        f"footprint {report.footprint_area_m2 / 1e6:.2f} km2; {report.n_new_buildings} built 2022 or later; "
        f"existing PV {report.existing_pv_kwp:.1f} kWp on {report.n_existing_pv} roofs"
    )
