"""manifest.json: what someone needs to re-run a survey exactly.

The pipeline assembles the content (resolved config, input hashes, package versions,
counts and timings per stage); this module makes it plain JSON (UTF-8, Chinese kept as
characters, keys sorted, NaN as null), hides passwords in connection URLs and adds the
SHA-256 of every file written beside it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from datetime import date, datetime
from pathlib import Path, PurePath
from typing import Any, Mapping

import numpy as np
import pandas as pd

__all__ = ["jsonable", "redact_url", "file_sha256", "manifest_json"]

_CREDENTIALS_RE = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@")
_PG_PASSWORD_RE = re.compile(r"(password\s*=\s*)('[^']*'|\S+)", re.IGNORECASE)


def redact_url(text: str) -> str:
    """Replace the password of ``scheme://user:password@host`` and ``password=...`` by ``***``."""
    text = _CREDENTIALS_RE.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
    return _PG_PASSWORD_RE.sub(lambda m: f"{m.group(1)}***", text)


def jsonable(value: Any) -> Any:
    """A JSON-ready copy: numpy / pandas scalars to Python, NaN and inf to None, paths and
    dates to strings, frames to lists of records, passwords in URLs hidden."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, pd.DataFrame):
        return jsonable(value.to_dict(orient="records"))
    if isinstance(value, pd.Series):
        return jsonable(value.to_dict())
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
        seq = sorted(value, key=str) if isinstance(value, (set, frozenset)) else list(value)
        return [jsonable(v) for v in seq]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        x = float(value)
        return x if math.isfinite(x) else None
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (datetime, date, pd.Timestamp)):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, str):
        return redact_url(value)
    return redact_url(str(value))


def file_sha256(path: str | Path) -> str:
    """SHA-256 (hex) of a file's bytes."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def manifest_json(manifest: Mapping[str, Any], *, outputs: Mapping[str, Path] | None = None) -> str:
    """The manifest as JSON text (UTF-8 characters, sorted keys, 2-space indent, final newline).

    Parameters
    ----------
    manifest : mapping
        Content from the pipeline.
    outputs : mapping, optional
        Output file name -> path of the bytes written; adds ``outputs[name] = {sha256, bytes}``.
    """
    data = jsonable(manifest)
    if outputs:
        data["outputs"] = {name: {"sha256": file_sha256(p), "bytes": Path(p).stat().st_size}
                           for name, p in outputs.items()}
    return json.dumps(data, ensure_ascii=False, sort_keys=True, indent=2, allow_nan=False) + "\n"
