"""Text encoding of shapefile attribute tables (DBF).

Chinese surveying offices still send shapefiles whose DBF is in GBK / GB18030, often
without the ``.cpg`` sidecar that names the encoding; GDAL then assumes ISO-8859-1 and
every Chinese name turns into mojibake without an error. :func:`detect_dbf_encoding`
reads the raw bytes of the DBF's text fields and decides:

1. only ASCII bytes: the encoding does not matter (``None``: let GDAL decide);
2. valid UTF-8: ``UTF-8`` (UTF-8 has a strict byte structure: GBK text almost never
   decodes as UTF-8 by accident, so this test comes first);
3. valid GB18030: ``GB18030`` (a superset of GBK and GB2312, so it decodes all three);
4. neither: ``None`` and the caller warns (pass ``encoding=`` explicitly).

A ``.cpg`` file is trusted when its encoding decodes the bytes; when it does not (a
wrong ``.cpg``) the detection above decides and the caller warns.

CSV tables users save from Excel (pins, points, roofs, profiles) meet the same two encodings:
Excel's "CSV UTF-8" writes a BOM, and its plain "CSV (逗号分隔)" on a Chinese Windows writes GBK.
:func:`read_text_csv` reads either by the same rule (UTF-8 first, then GB18030).
"""

from __future__ import annotations

import codecs
import io
import struct
import zipfile
from pathlib import Path

__all__ = ["detect_dbf_encoding", "read_cpg", "read_dbf_head", "dbf_text_bytes", "decodes_as", "decode_text",
           "read_text_csv"]

# Records sampled for detection: enough for any real mix of names, bounded for huge files.
_MAX_RECORDS = 50_000
# DBF header layout (dBase III+ / xBase): record count at byte 4 (uint32), header length at
# byte 8 (uint16), record length at byte 10 (uint16), 32-byte field descriptors from byte
# 32, terminated by 0x0D; descriptor: name (11 bytes), type (1 byte), ..., length at 16.
_HDR = struct.Struct("<xxxxIHH")


def dbf_text_bytes(data: bytes, max_records: int = _MAX_RECORDS) -> list[bytes]:
    """Raw bytes of every non-empty character (``C``) field value in a DBF.

    Parameters
    ----------
    data : bytes
        The DBF file content (or at least its header and first records).
    max_records : int
        Records read at most.

    Returns
    -------
    list of bytes
        The field names, then one entry per non-blank text value (trailing spaces and
        NULs removed).
    """
    if len(data) < 32:
        return []
    n_rec, hdr_len, rec_len = _HDR.unpack_from(data, 0)
    fields = []  # (offset in record, length) of character fields
    out = []  # field names first (Chinese field names are common), then values
    offset = 1  # byte 0 of a record is the deletion flag
    pos = 32
    while pos + 32 <= min(hdr_len, len(data)) and data[pos] != 0x0D:
        fname = data[pos:pos + 11].split(b"\x00", 1)[0].rstrip(b" ")
        if fname:
            out.append(fname)
        ftype = chr(data[pos + 11])
        flen = data[pos + 16]
        if ftype == "C":
            fields.append((offset, flen))
        offset += flen
        pos += 32
    for r in range(min(n_rec, max_records)):
        start = hdr_len + r * rec_len
        rec = data[start:start + rec_len]
        if len(rec) < rec_len:
            break
        for off, ln in fields:
            val = rec[off:off + ln].rstrip(b" \x00")
            if val:
                out.append(val)
    return out


def decodes_as(values: list[bytes], encoding: str) -> bool:
    """True when every value decodes strictly in ``encoding`` (False for unknown encodings)."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        return False
    try:
        for v in values:
            v.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _normalise_cpg(text: str) -> str:
    """A .cpg's content as a Python codec name ('936' -> 'cp936', '65001' -> 'utf-8')."""
    t = text.strip().strip("\ufeff").strip()
    if t.isdigit():
        return {"65001": "utf-8", "936": "cp936", "54936": "gb18030", "950": "cp950"}.get(t, f"cp{t}")
    low = t.lower().replace("_", "-")
    if low.startswith("8859-"):
        return "iso" + low
    return t


def read_cpg(dbf_path: Path, zip_member: str | None = None) -> str | None:
    """Encoding named by the ``.cpg`` beside a DBF (in a folder or a zip), else ``None``."""
    if zip_member is not None:
        with zipfile.ZipFile(dbf_path) as zf:
            stem = zip_member[:-4]
            for name in zf.namelist():
                if name.lower() == (stem + ".cpg").lower():
                    return _normalise_cpg(zf.read(name).decode("ascii", "replace")) or None
        return None
    for cand in (dbf_path.with_suffix(".cpg"), dbf_path.with_suffix(".CPG")):
        if cand.is_file():
            return _normalise_cpg(cand.read_text("ascii", errors="replace")) or None
    return None


def detect_dbf_encoding(data: bytes | Path, zip_member: str | None = None) -> str | None:
    """Guess the encoding of a DBF's text from its bytes.

    Parameters
    ----------
    data : bytes or Path
        DBF content, or the path of a ``.dbf`` (or of a ``.zip`` when ``zip_member`` names
        the ``.dbf`` inside it).
    zip_member : str, optional
        Member name of the DBF inside a zip.

    Returns
    -------
    str or None
        ``'UTF-8'``, ``'GB18030'``, or ``None`` when the text is pure ASCII or fits neither.
    """
    if isinstance(data, (str, Path)):
        p = Path(data)
        if zip_member is not None:
            with zipfile.ZipFile(p) as zf, zf.open(zip_member) as fh:
                raw = read_dbf_head(fh)
        else:
            with p.open("rb") as fh:
                raw = read_dbf_head(fh)
    else:
        raw = data
    values = dbf_text_bytes(raw)
    if all(v.isascii() for v in values):
        return None
    if decodes_as(values, "utf-8"):
        return "UTF-8"
    if decodes_as(values, "gb18030"):
        return "GB18030"
    return None


def read_dbf_head(fh: io.BufferedIOBase) -> bytes:
    head = fh.read(32)
    if len(head) < 32:
        return head
    n_rec, hdr_len, rec_len = _HDR.unpack_from(head, 0)
    return head + fh.read(hdr_len - 32 + min(n_rec, _MAX_RECORDS) * rec_len)


def decode_text(raw: bytes) -> str:
    """Bytes of a text file -> text: UTF-8 (a BOM skipped), else GB18030.

    The order is the DBF rule's (:func:`detect_dbf_encoding`): GBK text almost never decodes
    as UTF-8 by accident, and GB18030 decodes GBK and GB2312.

    Raises
    ------
    UnicodeDecodeError
        The bytes are neither UTF-8 nor GB18030.
    """
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("gb18030")


def read_text_csv(path: str | Path, **kwargs):
    """:func:`pandas.read_csv` of a CSV in UTF-8 (with or without BOM) or GBK / GB18030
    (:func:`decode_text`); ``kwargs`` go to ``read_csv``.

    Raises
    ------
    UnicodeDecodeError
        The file is neither UTF-8 nor GB18030 (the caller says what to do).
    """
    import pandas as pd

    return pd.read_csv(io.StringIO(decode_text(Path(path).read_bytes())), **kwargs)
