"""README.txt: the bilingual index of an output folder (each file, its layers or sheets, how to open it)."""

from __future__ import annotations

import re
from typing import Iterable, Mapping, Sequence

__all__ = ["FILE_NOTES", "describe", "readme_txt"]

#: file name (or pattern) -> (Chinese, English) description and how to open it.
FILE_NOTES: tuple[tuple[str, str, str], ...] = (
    ("report.html", "调查报告：先建哪些项目、目标是否达标、地图与图表。用任意浏览器打开，无需联网；可打印为 A4。",
     "The report: what to build first, whether each target is met, map and charts. Open in any web browser "
     "(no network needed); prints on A4."),
    ("report.pdf", "报告的 PDF 版本（A4），用任意 PDF 阅读器打开。",
     "The report as a PDF (A4); open with any PDF reader."),
    ("shortlists.xlsx", "采购工作簿：汇总表及每个建设年份、储备和优先级类别各一张表；含 WGS84、GCJ-02（高德/腾讯地图）"
     "经纬度和 CGCS2000 坐标。用 Excel、WPS 或 LibreOffice 打开。",
     "Procurement workbook: a summary sheet and one sheet per build year, reserve and priority class; WGS84 and "
     "GCJ-02 (Amap / Tencent) longitude/latitude and CGCS2000 coordinates. Open with Excel, WPS or LibreOffice."),
    ("survey.gpkg", "GeoPackage：全部建筑、屋面和规划结果，QGIS 中打开即带样式（拖入 QGIS 或 图层 > 添加图层）。",
     "GeoPackage with every building, roof plane and the plan; opens styled in QGIS (drag it into QGIS or "
     "Layer > Add Layer)."),
    ("flux_annual.tif", "屋面年辐照量栅格（kWh/m²，每个屋面像元在其自身坡面上，非屋面为空值），云优化 GeoTIFF；"
     "在 QGIS 中拖入即按旁边的 flux_annual.qml 着色。",
     "Roof irradiation raster (kWh/m2 a year in the plane of every roof cell, empty off the roofs), a "
     "Cloud-Optimized GeoTIFF; drag it into QGIS and it opens styled by flux_annual.qml beside it."),
    ("flux_monthly.tif", "屋面逐月辐照量栅格（12 个波段，1 月至 12 月，kWh/m²），样式见 flux_monthly.qml。",
     "Roof irradiation per month (12 bands, January to December, kWh/m2); styled by flux_monthly.qml."),
    ("flux_*.qml", "上述栅格的 QGIS 样式（色带），与栅格同名，QGIS 自动加载。",
     "QGIS style (colour ramp) of the raster of the same name; QGIS loads it with the raster."),
    ("shortlist.csv", "建设年份项目清单（按排名），UTF-8 带 BOM，Excel 可直接打开。",
     "Sites of the build years in rank order; UTF-8 with BOM, opens directly in Excel."),
    ("shortlist_class_*.csv", "某一优先级类别的全部项目（建设年份和储备），按排名。",
     "Every site of one priority class (build years and reserve) in rank order."),
    ("shortlist_reserve.csv", "储备项目清单，按排名。", "Reserve sites in rank order."),
    ("shortlist_*.csv", "某一建设年份的项目清单，按排名。", "Sites of one build year in rank order."),
    ("hourly_district.csv", "全区已规划项目逐时交流发电量（kWh，8,760 小时；time 列为带时区的当地时间），UTF-8 带 BOM。",
     "Hourly AC energy of every build-year site together (kWh per hour = mean kW; 8,760 hours, time in "
     "local time with its UTC offset); UTF-8 with BOM, opens in Excel."),
    ("hourly_phases.csv", "各建设年份逐时交流发电量（kWh，每个建设年份一列）。",
     "Hourly AC energy of each build year (one <year>_kwh column per build phase)."),
    ("hourly_sites.csv", "每个建设年份项目的逐时交流发电量（kWh，每个项目一列，列名为 building_id）。",
     "Hourly AC energy of each build-year site (one column per site, named by building_id)."),
    ("hourly_sites.parquet", "每个建设年份项目的逐时交流发电量（GeoParquet：每个项目一行，含轮廓，kwh 为逐时列表），"
     "用 QGIS、Python (geopandas) 或 DuckDB 打开。",
     "Hourly AC energy of each build-year site as GeoParquet (one row per site with its footprint, the hours as "
     "the list kwh); open with QGIS, Python (geopandas) or DuckDB."),
    ("hourly_resources.csv", "立面、车棚光伏逐时交流发电量（kWh，全部可用面，与规划分开统计）。",
     "Hourly AC energy of every kept facade / carport surface (facades_kwh, carports_kwh), reported beside the "
     "rooftop plan."),
    ("zones.csv", "分区统计：每个分区的建筑数、项目数、装机容量和年发电量，UTF-8 带 BOM。",
     "Per-zone table: buildings, sites, capacity and generation of each zone; UTF-8 with BOM."),
    ("cumulative_capacity.png", "累计装机容量与目标的图表（PNG 图片）。",
     "Chart of cumulative capacity against the targets (PNG image)."),
    ("summary.md", "文字摘要（Markdown 纯文本，可用记事本打开）。",
     "Summary in plain words (Markdown text; any text editor)."),
    ("manifest.json", "重现本次运行所需的信息：配置、输入文件及每个输出文件的 SHA-256。",
     "What it takes to re-run this survey: configuration, input files and the SHA-256 of every output."),
    ("README.txt", "本说明。", "This index."),
)


def _match(name: str, pattern: str) -> bool:
    return re.fullmatch(re.escape(pattern).replace(r"\*", ".*"), name) is not None


def describe(name: str) -> tuple[str, str]:
    """(Chinese, English) description of an output file ('', '' when unknown)."""
    return next(((zh, en) for pat, zh, en in FILE_NOTES if _match(name, pat)), ("", ""))


def readme_txt(names: Iterable[str], *, survey: str = "", layers: Sequence[str] = (),
               sheets: Sequence[str] = (), details: Mapping[str, str] | None = None) -> str:
    """The index text (UTF-8, CRLF line ends so Windows Notepad shows it right).

    Parameters
    ----------
    names : iterable of str
        Every file of the folder (README.txt itself is added).
    survey : str
        Survey name for the title.
    layers, sheets : sequence of str
        Layers of survey.gpkg and sheets of shortlists.xlsx, listed under them.
    details : mapping, optional
        Further line per file name (e.g. the sites of a shortlist).
    """
    files = sorted(set(names) | {"README.txt"}, key=lambda n: (
        next((i for i, (p, _z, _e) in enumerate(FILE_NOTES) if _match(n, p)), len(FILE_NOTES)), n))
    lines = [f"屋顶光伏调查输出文件说明 / Rooftop PV survey: what is in this folder — {survey}".rstrip(" —"), "",
             "先打开 report.html（浏览器）和 shortlists.xlsx（Excel）。",
             "Start with report.html (web browser) and shortlists.xlsx (Excel).", ""]
    for n in files:
        zh, en = describe(n)
        lines.append(n)
        if zh:
            lines.append(f"    {zh}")
        if en:
            lines.append(f"    {en}")
        if n == "survey.gpkg" and layers:
            lines.append("    图层 / layers: " + ", ".join(layers))
        if n == "shortlists.xlsx" and sheets:
            lines.append("    工作表 / sheets: " + ", ".join(sheets))
        if details and n in details:
            lines.append(f"    {details[n]}")
        lines.append("")
    return "\r\n".join(lines)
