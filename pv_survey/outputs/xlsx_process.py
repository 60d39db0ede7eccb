"""shortlists.xlsx written by a child process while this one writes the other output files.

XlsxWriter is pure Python (a city's workbook is ~4 CPU s, most of it ``write_row`` per row and
``Workbook.close``), so a thread gains nothing. :class:`XlsxProcess` is a
:class:`~pv_survey.outputs.writer_process.WriterProcess` (a fresh interpreter, its own session,
one-line failures, scratch files): it is started as :func:`~pv_survey.outputs.write_outputs` begins,
so its interpreter starts while the plan layer is built, and is handed the shortlist frame
(:func:`~pv_survey.outputs.csv_out.shortlist_frame`) as a scratch Parquet file (a pickle when Parquet
would not give it back as it was) as soon as it exists; the child writes
:func:`~pv_survey.outputs.xlsx_out.shortlists_xlsx` of it into the staged temporary name, so the
workbook is the same, byte for byte, as the one written in this process. It is used for a large plan
on a machine with a core for each of the three processes (:func:`use_process`); on 2 cores the
stage was slower with it (measured), so the workbook is written in this process there.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd

from .writer_process import ChildSide, WriterProcess, can_start, read_scratch, usable_cores
from .xlsx_out import shortlists_xlsx

__all__ = ["XLSX_PROCESS_MIN_SITES", "XLSX_PROCESS_MIN_CORES", "XlsxProcess", "use_process"]

#: Plan sites from which shortlists.xlsx is written by a child process (project choice: the
#: workbook costs ~40 CPU us a site, 3.7-3.9 s for the 96,752 sites of a 100,000-building city,
#: bench/bench_outputs.py; the child's start-up, a fresh interpreter and its imports, is ~1 CPU s,
#: so below ~50,000 sites, a ~2 s workbook, the child saves too little).
XLSX_PROCESS_MIN_SITES = 50_000

#: Usable cores from which the workbook gets its own process (project choice, measured at 100,000
#: buildings, bench/results/outputs-100k_xlsx-process.md: on 2 cores the driver, the GeoPackage's
#: writer and this one share the two, the child costs ~1.3-1.9 CPU s beside the in-process workbook
#: (its start-up and the hand-over) and the GeoPackage's writer finishes last: the stage took 10.3
#: against 9.4 s, idle; with a core for each of the three the workbook's ~4 s come off the driver's).
XLSX_PROCESS_MIN_CORES = 3


def use_process(n_sites: int) -> bool:
    """Whether a plan of ``n_sites`` sites writes shortlists.xlsx in a child process: a large plan, on
    at least :data:`XLSX_PROCESS_MIN_CORES` usable cores, where a child can be started
    (:func:`~pv_survey.outputs.writer_process.can_start`)."""
    return can_start() and n_sites >= XLSX_PROCESS_MIN_SITES and usable_cores() >= XLSX_PROCESS_MIN_CORES


class XlsxProcess(WriterProcess):
    """A child process writing shortlists.xlsx; a context manager that always ends it
    (:class:`~pv_survey.outputs.writer_process.WriterProcess`).

    Parameters
    ----------
    path : path
        File to create (the staged temporary name of shortlists.xlsx).
    final : path
        The output's final name, for error messages.
    title, when, max_rows
        As :func:`~pv_survey.outputs.xlsx_out.shortlists_xlsx`'s.
    scratch_in : path, optional
        Folder in which the scratch folder of the shortlist's Parquet file is made (default: the
        system's temporary folder).
    """

    job = "pv_survey.outputs.xlsx_process:_write_job"
    what = "workbook"
    scratch_kind = "xlsx"

    def __init__(self, path: str | Path, *, final: str | Path, title: str, when: datetime | None, max_rows: int,
                 scratch_in: str | Path | None = None) -> None:
        super().__init__(path, final=final, args=(title, when, int(max_rows)), scratch_in=scratch_in)

    def write(self, shortlist: pd.DataFrame) -> None:
        """Hand the child the shortlist frame (:func:`~pv_survey.outputs.csv_out.shortlist_frame`)."""
        self._send(("shortlist", self._file("shortlist", shortlist)))


def _write_job(side: ChildSide, path: str, final: str, title: str, when: datetime | None, max_rows: int) -> None:
    """The writer process's work: the workbook of the shortlist frame, written to ``path``."""
    sl = read_scratch(side.recv("shortlist")[1])
    data = shortlists_xlsx(None, title=title, when=when, max_rows=max_rows, shortlist=sl)
    Path(path).write_bytes(data)
