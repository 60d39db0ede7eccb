"""Bilingual (Chinese / English) names of fields and categories, used by every output.

One table serves the QGIS field aliases, the CSV headers, the report and the summary,
so a field is called the same thing wherever someone reads it.
"""

from __future__ import annotations

__all__ = ["FIELD_LABELS", "CATEGORY_LABELS", "PUBLIC_CATEGORIES", "field_alias", "category_label", "bilingual"]

#: field name -> (Chinese, English). Units in brackets, as in the field name.
FIELD_LABELS: dict[str, tuple[str, str]] = {
    "fid": ("要素编号", "Feature ID"),
    "rank": ("排名", "Rank"),
    "building_id": ("建筑编号", "Building ID"),
    "roof_id": ("屋面编号", "Roof ID"),
    "facade_id": ("立面编号", "Facade ID"),
    "carport_id": ("车棚编号", "Carport ID"),
    "width_m": ("宽度 (m)", "Width (m)"),
    "bottom_m": ("光伏底边高度 (m)", "Lowest module height (m)"),
    "gross_area_m2": ("立面总面积 (m²)", "Gross facade area (m²)"),
    "canopy_area_m2": ("车棚面积 (m²)", "Canopy area (m²)"),
    "name": ("名称", "Name"),
    "address": ("地址", "Address"),
    "category": ("类别", "Category"),
    "owner": ("产权单位", "Owner"),
    "height_m": ("高度 (m)", "Height (m)"),
    "height_source": ("高度来源", "Height source"),
    "roof_type": ("屋顶类型", "Roof type"),
    "year_built": ("建成年份", "Year built"),
    "existing_pv_kwp": ("已建光伏 (kWp)", "Existing PV (kWp)"),
    "excluded_reason": ("排除原因", "Exclusion reason"),
    "phase": ("分期", "Phase"),
    "priority_class": ("优先级类别", "Priority class"),
    "pinned": ("指定项目", "Pinned"),
    "capacity_kwp": ("装机容量 (kWp)", "Capacity (kWp)"),
    "cumulative_kwp": ("累计容量 (kWp)", "Cumulative capacity (kWp)"),
    "annual_kwh": ("年发电量 (kWh)", "Annual generation (kWh)"),
    "annual_mwh": ("年发电量 (MWh)", "Annual generation (MWh)"),
    "specific_yield_kwh_kwp": ("单位容量年发电量 (kWh/kWp)", "Specific yield (kWh/kWp)"),
    "tilt_deg": ("屋面倾角 (°)", "Roof tilt (°)"),
    "azimuth_deg": ("屋面方位角 (°, 北起顺时针)", "Roof azimuth (° clockwise from north)"),
    "area_m2": ("屋面面积 (m²)", "Roof-plane area (m²)"),
    "roof_area_m2": ("屋顶面积 (m²)", "Roof area (m²)"),
    "area_km2": ("面积 (km²)", "Area (km²)"),
    "usable_area_m2": ("可用面积 (m²)", "Usable area (m²)"),
    "mount": ("安装方式", "Mounting"),
    "module_tilt_deg": ("组件倾角 (°)", "Module tilt (°)"),
    "module_azimuth_deg": ("组件方位角 (°, 北起顺时针)", "Module azimuth (° clockwise from north)"),
    "gcr": ("地面覆盖率", "Ground coverage ratio"),
    "module_area_m2": ("组件面积 (m²)", "Module area (m²)"),
    "sky_view_frac": ("天空可视因子", "Sky-view factor"),
    "horizon_deg": ("地平线高度角 (°, 每扇区)", "Horizon elevation (° per sector)"),
    "poa_kwh_m2": ("组件面年辐照量 (kWh/m²)", "Plane-of-array irradiation (kWh/m²)"),
    "shading_loss_frac": ("遮挡损失比例", "Shading loss (fraction)"),
    "performance_ratio": ("系统效率 PR", "Performance ratio"),
    "capex_cny": ("投资 (元)", "CAPEX (CNY)"),
    "lcoe_cny_per_kwh": ("度电成本 (元/kWh)", "LCOE (CNY/kWh)"),
    "simple_payback_yr": ("回收期 (年)", "Payback (years)"),
    "npv_cny": ("净现值 (元)", "NPV (CNY)"),
    "co2_avoided_t_per_yr": ("年减排 CO₂ (t)", "CO₂ avoided (t/yr)"),
    "target": ("目标", "Target"),
    "year": ("年份", "Year"),
    "required_kwp": ("目标容量 (kWp)", "Required (kWp)"),
    "existing_kwp": ("已建容量 (kWp)", "Existing (kWp)"),
    "planned_kwp": ("规划容量 (kWp)", "Planned (kWp)"),
    "achieved_kwp": ("达成容量 (kWp)", "Achieved (kWp)"),
    "met": ("是否达标", "Met"),
    "margin_kwp": ("余量 (kWp)", "Margin (kWp)"),
    "status": ("状态", "Status"),
    "n_sites": ("项目数", "Sites"),
    "passed": ("已过期", "Passed"),
    "closes_passed": ("补足已过期目标", "Closes a passed target"),
    "definition": ("口径", "Definition"),
    "n_new_buildings": ("新建建筑数", "New buildings"),
    "n_with_pv": ("有光伏的建筑数", "Buildings with PV"),
    "covered": ("已覆盖", "Covered"),
    "basis": ("基数", "Basis"),
    "share_frac": ("覆盖率", "Share"),
    "share_with_plan_frac": ("含规划覆盖率", "Share with the plan"),
    "target_frac": ("目标比例", "Target share"),
    "n_more_buildings": ("尚需建筑数", "Buildings still needed"),
    "group": ("类别组", "Group"),
    "categories": ("包含类别", "Categories"),
    "n_buildings": ("建筑数", "Buildings"),
    "pv_area_existing_m2": ("已建光伏面积 (m²)", "Existing PV area (m²)"),
    "pv_area_planned_m2": ("规划光伏面积 (m²)", "Planned PV area (m²)"),
    "achieved_frac": ("达成比例", "Achieved share"),
    "potential_frac": ("潜力比例", "Potential share"),
    "required_frac": ("要求比例", "Required share"),
    "gap_m2": ("缺口 (m²)", "Gap (m²)"),
    # targets table and schedule (issue 15)
    "kind": ("目标类型", "Kind"),
    "due_year": ("须达成年份", "Due year"),
    "unit": ("单位", "Unit"),
    "required": ("要求值", "Required"),
    "achieved_existing": ("现有光伏达成", "Achieved by existing PV"),
    "achieved_plan": ("含规划达成", "Achieved with the plan"),
    "margin": ("余量", "Margin"),
    "shortfall": ("缺口", "Shortfall"),
    "source": ("来源", "Source"),
    "priority_rank": ("优先级排名", "Priority rank"),
    "build_year": ("建设年份", "Build year"),
    "serves": ("服务目标", "Serves targets"),
    "grid_class": ("并网电压等级", "Grid-connection class"),
    "plane_source": ("屋面来源", "Roof-plane source"),
    "n_roofs": ("屋面数", "Roof planes"),
    "class_rank": ("类内排名", "Rank within class"),
    "score": ("排序得分", "Ranking score"),
    "opex_cny_per_yr": ("年运维费用 (元/年)", "O&M cost (CNY/yr)"),
    "value_cny_per_kwh": ("电量价值 (元/kWh)", "Value of energy (CNY/kWh)"),
    "checked": ("考核口径", "Checked definition"),
    "pv_module_area_m2": ("光伏组件面积 (m²)", "PV module area (m²)"),
    "lon_deg": ("经度 CGCS2000", "Longitude"),
    "lat_deg": ("纬度 CGCS2000", "Latitude"),
    "lon_gcj02_deg": ("经度 GCJ-02 (高德/腾讯)", "Longitude GCJ-02 (Amap/Tencent)"),
    "lat_gcj02_deg": ("纬度 GCJ-02 (高德/腾讯)", "Latitude GCJ-02 (Amap/Tencent)"),
    "lon_wgs84_deg": ("经度 WGS84", "Longitude WGS84"),
    "lat_wgs84_deg": ("纬度 WGS84", "Latitude WGS84"),
    "x_m": ("X 坐标 CGCS2000 高斯-克吕格 (m)", "X CGCS2000 Gauss-Kruger (m)"),
    "y_m": ("Y 坐标 CGCS2000 高斯-克吕格 (m)", "Y CGCS2000 Gauss-Kruger (m)"),
    "why": ("入选理由", "Why this site"),
    "module": ("组件型号", "Module"),
    "n_modules": ("组件数", "Modules"),
    "n_rows": ("组件排数", "Module rows"),
    "module_orientation": ("组件方向 (竖排/横排)", "Module orientation (portrait / landscape)"),
    "module_id": ("组件编号", "Module ID"),
    "segment_id": ("组串段编号", "Row segment ID"),
    "row": ("排号", "Row"),
    "col": ("列号", "Column"),
    "built": ("建设", "Built"),
    "cum_kwp": ("累计装机容量 (kWp)", "Cumulative capacity (kWp)"),
    "cum_kwh": ("累计年发电量 (kWh)", "Cumulative annual generation (kWh)"),
    "cum_kwh_kwp": ("累计单位容量年发电量 (kWh/kWp)", "Cumulative specific yield (kWh/kWp)"),
    "last_kwh_kwp": ("最末组件单位容量年发电量 (kWh/kWp)", "Yield of the last module added (kWh/kWp)"),
}
_MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December")
for _m, _en in enumerate(_MONTHS_EN, start=1):
    FIELD_LABELS[f"kwh_{_m:02d}"] = (f"{_m}月发电量 (kWh)", f"{_en} generation (kWh)")

#: building category -> (Chinese, English); the categories of docs/ARCHITECTURE.md.
CATEGORY_LABELS: dict[str, tuple[str, str]] = {
    "government": ("党政机关", "Government"),
    "hospital": ("医院", "Hospital"),
    "school": ("学校", "School"),
    "public": ("其他公共机构", "Other public institution"),
    "industrial": ("工业厂房", "Industrial"),
    "commercial": ("商业办公", "Commercial"),
    "residential": ("住宅", "Residential"),
    "other": ("其他", "Other"),
}

#: Categories drawn with an outline as public institutions (Tianhe carbon-peak plan 2024,
#: item 1: party and government offices, hospitals, schools and other public institutions lead).
PUBLIC_CATEGORIES: tuple[str, ...] = ("government", "hospital", "school", "public")


def bilingual(zh: str, en: str) -> str:
    """``'中文 / English'``, or just one of them when the other is empty."""
    if zh and en:
        return f"{zh} / {en}"
    return zh or en


def field_alias(name: str) -> str | None:
    """Bilingual alias of a field, e.g. ``'装机容量 (kWp) / Capacity (kWp)'``; None when unknown."""
    pair = FIELD_LABELS.get(name)
    return bilingual(*pair) if pair else None


def category_label(value: str, *, english_only: bool = False) -> str:
    """Bilingual (or English) label of a building category; unknown values pass through."""
    pair = CATEGORY_LABELS.get(str(value))
    if pair is None:
        return str(value)
    return pair[1] if english_only else bilingual(*pair)
