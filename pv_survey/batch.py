"""Batches of scenarios: one output folder each, a comparison table, resumable.

Scenarios come from scenario TOML files, folders of them, or *parameter-matrix* files. A matrix
file is a TOML file with a ``[matrix]`` table of dotted ``section.field`` keys, each a list of
values; the batch is the cartesian product, on top of an optional ``base`` scenario::

    # sensitivity.toml
    name = "sens"                       # prefix of the scenario names (default: the file's stem)
    base = "tianhe-default.toml"        # optional, relative to this file (default: the defaults)

    [matrix]
    "roofs.module" = ["jinko-tiger-neo-54hl4r-bdv-440", "ja-deepblue4-jam66d45-620"]
    "roofs.edge_setback_m" = [0.5, 1.0]
    "shading.min_output_frac" = [0.6, 0.7]

gives 8 scenarios named like ``sens__module-jinko-tiger-neo-54hl4r-bdv-440__edge_setback_m-0.5__min_output_frac-0.6``
(keys with a single value apply to every scenario and stay out of the names; the field name
alone is used unless two keys share it). A matrix scenario's ``survey.name`` is its name.
Relative input paths among the values (``inputs.buildings`` ...) are resolved against the
matrix file's folder, as :func:`pv_survey.config.load_config` does for scenario files.

:func:`run_batch` runs each scenario with :func:`pv_survey.pipeline.run_survey` (tiled; the tiles
on one shared dask cluster when ``workers`` or ``scheduler`` is given) into ``<out>/<scenario name>/``, then writes ``comparison.csv`` (UTF-8
with BOM, for Excel) and ``comparison.md``. A scenario is *finished* when its
``manifest.json`` records the same resolved config and the same input-file hashes; a
re-run skips finished scenarios and runs the rest. The comparison rows of finished scenarios
are kept in ``<out>/batch_state.json``. An error in one scenario is recorded under its name and
the others still run.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import re
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

from .config import Config, check_name, config_to_dict, load_config, read_toml
from .errors import ConfigError, OutputError, PVSurveyError, RunLockedError

log = logging.getLogger("pv_survey")

__all__ = [
    "Scenario",
    "ScenarioOutcome",
    "BatchResult",
    "load_scenarios",
    "expand_matrix",
    "is_matrix_file",
    "config_sha256",
    "is_finished",
    "comparison_row",
    "comparison_table",
    "comparison_markdown",
    "run_batch",
    "STATE_FILE",
]

#: Batch bookkeeping file in the batch's output folder.
STATE_FILE = "batch_state.json"
_MATRIX_KEYS = ("name", "base", "matrix")
_PATH_FIELDS = ("buildings", "roofs", "dsm", "dem", "weather", "pins_file")
_SAFE_RE = re.compile(r"[^A-Za-z0-9._+-]+")


@dataclass(frozen=True)
class Scenario:
    """One scenario of a batch.

    Attributes
    ----------
    name : str
        Unique name; also the name of its output folder.
    config : Config
    source : str
        The file it came from.
    varied : dict
        Matrix key -> value of this scenario (empty for scenario files).
    """

    name: str
    config: Config
    source: str
    varied: dict = field(default_factory=dict)


@dataclass
class ScenarioOutcome:
    """What happened to one scenario: ``status`` is ``done``, ``skipped`` or ``failed``."""

    name: str
    status: str
    out_dir: Path
    row: dict | None = None
    error: str = ""
    seconds: float = 0.0


@dataclass
class BatchResult:
    """Outcomes of every scenario, the comparison table and the files written."""

    outcomes: list[ScenarioOutcome]
    comparison: pd.DataFrame
    paths: dict[str, Path]

    @property
    def failed(self) -> list[ScenarioOutcome]:
        """The scenarios that failed."""
        return [o for o in self.outcomes if o.status == "failed"]


# --------------------------------------------------------------------------- scenarios


def is_matrix_file(path: str | Path) -> bool:
    """True when the TOML file has a top-level ``[matrix]`` table."""
    return isinstance(read_toml(Path(path)).get("matrix"), dict)


def _fmt_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "+".join(_fmt_value(x) for x in v)
    return _SAFE_RE.sub("-", str(v)).strip("-") or "x"


def _name_value(fld: str, value: Any) -> str:
    """A value as it appears in a scenario name: input files by their stem."""
    if fld in _PATH_FIELDS and isinstance(value, str) and value:
        return _fmt_value(Path(value.split("?")[0]).stem)
    return _fmt_value(value)


def _resolve_value(section: str, fld: str, value: Any, folder: Path) -> Any:
    """A relative input path among the matrix values, resolved against the matrix file's folder."""
    if fld in _PATH_FIELDS and isinstance(value, str) and value and "://" not in value \
            and not value.startswith("PG:") and not Path(value).is_absolute():
        return str((folder / value).resolve())
    return value


def expand_matrix(path: str | Path) -> list[Scenario]:
    """The scenarios of a parameter-matrix file (see the module docstring for the format).

    Raises
    ------
    ConfigError
        Unknown top-level keys, a key that is not ``section.field``, an empty or non-list
        value, a value the config rejects (the message names the key and the value), or a
        missing base file.
    """
    p = Path(path)
    data = read_toml(p)
    unknown = [k for k in data if k not in _MATRIX_KEYS]
    if unknown:
        raise ConfigError(f"{p}: unknown key '{unknown[0]}' in a matrix file; known: {', '.join(_MATRIX_KEYS)}")
    matrix = data.get("matrix")
    if not isinstance(matrix, dict) or not matrix:
        raise ConfigError(f"{p}: [matrix] must be a table of \"section.field\" = [values ...] with at least one key")
    prefix = data.get("name", p.stem)
    if not isinstance(prefix, str) or not prefix:
        raise ConfigError(f"{p}: 'name' = {prefix!r} must be a non-empty string (the scenario-name prefix)")
    check_name(prefix, f"{p}: 'name'")
    base_cfg = Config()
    if "base" in data:
        if not isinstance(data["base"], str) or not data["base"]:
            raise ConfigError(f"{p}: 'base' = {data['base']!r} must be the path of a scenario TOML file")
        base_path = Path(data["base"])
        if not base_path.is_absolute():
            base_path = p.parent / base_path
        if not base_path.is_file():
            raise ConfigError(f"{p}: base = {data['base']!r}: scenario file {base_path} not found; check the path "
                              "(relative to the matrix file's folder)")
        base_cfg = load_config(base_path)
    keys, values = [], []
    for key, vals in matrix.items():
        parts = key.split(".")
        if len(parts) != 2 or not all(parts):
            raise ConfigError(f"{p}: matrix key '{key}' must be 'section.field', e.g. \"roofs.edge_setback_m\"")
        if not isinstance(vals, list) or not vals:
            raise ConfigError(f"{p}: matrix key '{key}' = {vals!r} must be a non-empty list of values; write them in "
                              "brackets, e.g. [0.5, 1.0]")
        keys.append(parts)
        values.append([_resolve_value(parts[0], parts[1], v, p.parent) for v in vals])
    varying = [i for i, v in enumerate(values) if len(v) > 1]
    fields = [keys[i][1] for i in varying]
    label = {i: (keys[i][1] if fields.count(keys[i][1]) == 1 else f"{keys[i][0]}_{keys[i][1]}") for i in varying}
    out = []
    for combo in itertools.product(*values):
        changes: dict[str, dict] = {}
        for (sec, fld), v in zip(keys, combo):
            changes.setdefault(sec, {})[fld] = v
        name = "__".join([prefix] + [f"{label[i]}-{_name_value(keys[i][1], combo[i])}" for i in varying])
        changes.setdefault("survey", {})["name"] = name
        try:
            cfg = base_cfg.replace(**changes)
        except ConfigError as exc:
            raise ConfigError(f"{p}: scenario {name}: {exc}") from exc
        varied = {".".join(keys[i]): combo[i] for i in varying}
        out.append(Scenario(name=name, config=cfg, source=str(p), varied=varied))
    return out


def load_scenarios(sources: Iterable[str | Path]) -> list[Scenario]:
    """Scenarios from scenario TOML files, folders of them (``*.toml``, sorted) and matrix files.

    A scenario file's name is its file stem. Names must be unique across the batch.

    Raises
    ------
    ConfigError
        A missing path, an empty folder, an invalid file, or two scenarios with one name.
    """
    files: list[Path] = []
    for src in sources:
        s = Path(src)
        if s.is_dir():
            found = sorted(s.glob("*.toml"))
            if not found:
                raise ConfigError(f"{s}: folder holds no *.toml scenario files; pass scenario files or a matrix file")
            files += found
        elif s.is_file():
            files.append(s)
        else:
            raise ConfigError(f"{s}: no such scenario file or folder; check the path")
    if not files:
        raise ConfigError("no scenarios given; pass scenario TOML files, a folder of them or a matrix file")
    scenarios: list[Scenario] = []
    for f in files:
        if is_matrix_file(f):
            scenarios += expand_matrix(f)
        else:
            scenarios.append(Scenario(name=_SAFE_RE.sub("-", f.stem), config=load_config(f), source=str(f)))
    seen: dict[str, str] = {}
    for sc in scenarios:
        check_name(sc.name, f"{sc.source}: scenario name")
        if sc.name in seen:
            raise ConfigError(f"scenario name '{sc.name}' comes from both {seen[sc.name]} and {sc.source}; "
                              "rename one of the files (names are output folder names)")
        seen[sc.name] = sc.source
    return scenarios


# --------------------------------------------------------------------------- finished or not


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def config_sha256(cfg: Config) -> str:
    """SHA-256 of the resolved config (embedded default inputs filled in) as canonical JSON."""
    from .pipeline import resolve_inputs

    data = json.loads(_canonical(config_to_dict(resolve_inputs(cfg))))
    return hashlib.sha256(_canonical(data).encode("utf-8")).hexdigest()


def _file_sha256(path: str) -> str | None:
    from .pipeline import file_sha256
    return file_sha256(path)


def is_finished(out_dir: str | Path, cfg: Config) -> tuple[bool, str]:
    """Whether ``out_dir`` holds a finished run of ``cfg``, and why not.

    Finished = ``manifest.json`` exists, records the same resolved config
    (:func:`config_sha256`) and the same SHA-256 of every input file it lists.
    """
    man = Path(out_dir) / "manifest.json"
    if not man.is_file():
        return False, "no manifest.json"
    try:
        manifest = json.loads(man.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        return False, f"manifest.json unreadable ({exc})"
    recorded = manifest.get("config")
    if not isinstance(recorded, dict):
        return False, "manifest.json has no config"
    if hashlib.sha256(_canonical(recorded).encode("utf-8")).hexdigest() != config_sha256(cfg):
        return False, "made with a different config"
    for name, entry in (manifest.get("inputs") or {}).items():
        if isinstance(entry, dict) and entry.get("sha256") and entry.get("path"):
            if _file_sha256(entry["path"]) != entry["sha256"]:
                return False, f"input '{name}' ({entry['path']}) changed since"
    return True, ""


# --------------------------------------------------------------------------- comparison


def comparison_row(summary: dict) -> dict:
    """Totals and target results of one run (from ``SurveyResult.summary``), as a flat dict.

    Columns: ``buildings_in, buildings_with_site, roofs_kept, total_capacity_kwp, existing_kwp,
    annual_mwh, specific_yield_kwh_kwp``; from the plan ``plan capex_cny, plan npv_cny,
    plan lcoe_cny_per_kwh, plan least_cost_capex_cny, plan priority_capex_cny`` and ``sites
    <year>`` per build year; per target ``<target>: required_kwp``, ``<target>: achieved_kwp``
    (capacity targets), ``<target>: achieved_frac`` (share targets) and ``<target>: met``
    ('yes' / 'no' / 'n/a').
    """
    cap = float(summary.get("total_capacity_kwp", 0.0))
    mwh = float(summary.get("annual_mwh", 0.0))
    row = {
        "buildings_in": int(summary.get("buildings_in", 0)),
        "buildings_with_site": int(summary.get("buildings_with_site", 0)),
        "roofs_kept": int(summary.get("roofs_kept", 0)),
        "total_capacity_kwp": cap,
        "existing_kwp": float(summary.get("existing_kwp", 0.0)),
        "annual_mwh": mwh,
        # 1 MWh = 1000 kWh
        "specific_yield_kwh_kwp": mwh * 1000.0 / cap if cap > 0 else float("nan"),
    }
    pt = summary.get("plan_totals") or {}
    for k in ("capex_cny", "npv_cny", "lcoe_cny_per_kwh", "least_cost_capex_cny", "priority_capex_cny"):
        if k in pt:
            row[f"plan {k}"] = float(pt[k])
    for y, n in (pt.get("sites_per_year") or {}).items():
        row[f"sites {y}"] = int(n)
    for t in summary.get("targets", []) or []:
        name = str(t.get("target", t.get("year", "target")))
        for k in ("required_kwp", "achieved_kwp", "met"):
            if k in t:
                v = t[k]
                if k == "met":
                    row[f"{name}: {k}"] = v if isinstance(v, str) else bool(v)
                elif v is not None and not (isinstance(v, float) and np.isnan(v)):
                    row[f"{name}: {k}"] = float(v)
        if t.get("kind", "capacity") != "capacity" and "achieved_plan" in t:
            row[f"{name}: achieved_frac"] = float(t["achieved_plan"])
    return row


def comparison_table(outcomes: list[ScenarioOutcome], scenarios: list[Scenario]) -> pd.DataFrame:
    """One row per scenario: name, status, the varied matrix values, totals and targets."""
    varied_keys = list(dict.fromkeys(k for sc in scenarios for k in sc.varied))
    by_name = {sc.name: sc for sc in scenarios}
    rows = []
    for o in outcomes:
        sc = by_name[o.name]
        row = {"scenario": o.name, "status": o.status}
        row.update({k: _fmt_value(sc.varied[k]) if k in sc.varied else "" for k in varied_keys})
        row.update(o.row or {})
        row["error"] = o.error
        rows.append(row)
    table = pd.DataFrame(rows)
    if not table.empty and not (table["error"] != "").any():
        table = table.drop(columns=["error"])
    return table


def _md_cell(v: Any, col: str = "") -> str:
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (float, np.floating)):
        if np.isnan(v):
            return ""
        if "lcoe" in col or col.endswith("_frac"):
            return f"{v:,.3f}"
        if col.endswith("_cny"):
            return f"{v / 1e6:,.2f} M"
        return f"{v:,.1f}"
    if isinstance(v, (int, np.integer)):
        return f"{v:,d}"
    return str(v).replace("|", "\\|").replace("\n", " ")


def comparison_markdown(table: pd.DataFrame, *, title: str = "Scenario comparison / 情景对比") -> str:
    """The comparison table as GitHub-flavoured markdown (numbers to 0.1, thousands separated;
    CNY in millions to 0.01, LCOE and shares to 0.001; full precision stays in the CSV)."""
    lines = [f"# {title}", ""]
    if table.empty:
        return "\n".join(lines + ["(no scenarios)", ""])
    cols = list(table.columns)
    lines.append("| " + " | ".join(cols) + " |")
    lines.append("|" + "|".join("---:" if pd.api.types.is_numeric_dtype(table[c]) and table[c].dtype != bool
                                else "---" for c in cols) + "|")
    for _, r in table.iterrows():
        lines.append("| " + " | ".join(_md_cell(r[c], str(c)) for c in cols) + " |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- running


def _load_state(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return {"scenarios": {}}
    return data if isinstance(data.get("scenarios"), dict) else {"scenarios": {}}


def _save_state(path: Path, state: dict) -> None:
    from .outputs.atomic import atomic_write_text

    atomic_write_text(path, json.dumps(state, indent=1, ensure_ascii=False, default=str) + "\n")


def _record_state(path: Path, name: str, entry: dict) -> None:
    """Store one scenario's entry in the batch state file, read again under a lock so the entries
    other batch processes wrote in the meantime are kept."""
    from .outputs.runlock import file_lock

    with file_lock(path.with_name("." + path.name + ".lock")):
        state = _load_state(path)
        state["scenarios"][name] = entry
        _save_state(path, state)


def _scenario_dir(root: Path, name: str) -> Path:
    """``root / name``, refused unless it is a folder directly inside ``root`` (names never leave it)."""
    check_name(name, "scenario name")
    sdir = root / name
    if sdir.resolve().parent != root.resolve():
        raise ConfigError(f"scenario name {name!r} leads outside the batch folder {root}; rename the scenario")
    return sdir


def run_batch(scenarios: list[Scenario], *, out_dir: str | Path, workers: int | None = None,
              scheduler: Any = None, overwrite: bool = False,
              progress: Callable[[str, int, int], None] | None = None,
              on_scenario: Callable[[ScenarioOutcome, int, int], None] | None = None) -> BatchResult:
    """Run every scenario into ``out_dir/<name>/`` and write the comparison table.

    Parameters
    ----------
    scenarios : list of Scenario
        From :func:`load_scenarios`.
    out_dir : path
        Batch folder.
    workers, scheduler
        Run each scenario partitioned on one dask cluster shared by the batch (see
        :func:`pv_survey.partition.run_partitioned`); neither = the tiles in this process.
    overwrite : bool
        Replace the outputs of a scenario whose config or inputs changed since they were made;
        without it that scenario fails with a message. Finished scenarios (same config and
        inputs) are skipped either way.
    progress : callable(stage, done, total), optional
        Passed to each run.
    on_scenario : callable(outcome, index, total), optional
        Called after each scenario (done, skipped or failed), e.g. to report it.

    Returns
    -------
    BatchResult
        ``comparison.csv`` (UTF-8 with BOM) and ``comparison.md`` are in ``paths``.
    """
    from .outputs.atomic import atomic_write_bytes, atomic_write_text
    from .outputs.runlock import run_lock
    from .partition import dask_client
    from .pipeline import run_survey

    root = Path(out_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{root}: cannot create the batch folder ({exc.strerror}); choose another --out") from exc
    state_path = root / STATE_FILE
    outcomes: dict[int, ScenarioOutcome] = {}
    with dask_client(workers, scheduler) as client:

        def attempt(k: int, sc: Scenario, wait: bool) -> ScenarioOutcome | None:
            """Claim the scenario's folder and run (or skip) it; None when another process holds it."""
            sdir = root / sc.name
            t0 = time.perf_counter()
            outcome = ScenarioOutcome(name=sc.name, status="failed", out_dir=sdir)
            claimed = False
            try:
                _scenario_dir(root, sc.name)  # the name must not lead outside the batch folder
                with ExitStack() as stack:
                    # one process per scenario: another batch (or run) on this folder holds the lock
                    stack.enter_context(run_lock(sdir, wait=wait, command="batch", remove_if_created=False))
                    claimed = True
                    sha = config_sha256(sc.config)
                    done, why = is_finished(sdir, sc.config)
                    # read now, not at the start: another batch process may have finished it meanwhile
                    stored = _load_state(state_path)["scenarios"].get(sc.name, {})
                    if done and stored.get("config_sha256") == sha and isinstance(stored.get("row"), dict):
                        outcome.status, outcome.row = "skipped", stored["row"]
                    else:
                        has_manifest = (sdir / "manifest.json").is_file()
                        if has_manifest and not done and not overwrite:
                            raise OutputError(f"{sdir}: holds outputs {why}; pass --overwrite to replace them")
                        # a folder without manifest holds an interrupted run (outputs are written all or
                        # nothing); a finished one without a stored comparison row is re-run in place
                        replace = True  # the claimed folder exists; outputs are replaced, never other files
                        # every run is tiled; client None = the tiles in this process
                        res = run_survey(sc.config, out_dir=sdir, overwrite=replace, progress=progress,
                                         scheduler=client)
                        outcome.status, outcome.row = "done", comparison_row(res.summary)
                        _record_state(state_path, sc.name, {"config_sha256": sha, "row": outcome.row})
            except RunLockedError:
                if not claimed and not wait:
                    return None
                raise
            except PVSurveyError as exc:
                outcome.error = str(exc)
            except Exception as exc:  # noqa: BLE001 - one scenario's bug must not stop the batch
                log.debug("scenario %s failed", sc.name, exc_info=True)
                outcome.error = f"{type(exc).__name__}: {exc}"
            outcome.seconds = round(time.perf_counter() - t0, 3)
            if outcome.status == "failed":
                log.info("scenario %s failed: %s", sc.name, outcome.error)
            if on_scenario is not None:
                on_scenario(outcome, k, len(scenarios))
            return outcome

        deferred = []
        for k, sc in enumerate(scenarios, start=1):
            got = attempt(k, sc, wait=False)
            if got is None:
                deferred.append((k, sc))
            else:
                outcomes[k] = got
        for k, sc in deferred:  # held by another process: wait for it, then take its result (or run it)
            log.info("scenario %s is being run by another process; waiting for it", sc.name)
            outcomes[k] = attempt(k, sc, wait=True)
    outcomes = [outcomes[k] for k in sorted(outcomes)]
    table = comparison_table(outcomes, scenarios)
    csv_text = table.to_csv(index=False, lineterminator="\r\n")
    paths = {
        "comparison.csv": atomic_write_bytes(root / "comparison.csv", csv_text.encode("utf-8-sig")),
        "comparison.md": atomic_write_text(root / "comparison.md", comparison_markdown(table)),
    }
    return BatchResult(outcomes=outcomes, comparison=table, paths=paths)
