<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<!-- pv-survey default style of the "roofs" layer, also used for the "facades" (lines)
     and "carports" layers (template; @@...@@ are filled by pv_survey.outputs.styles):
     kept surfaces graduated by specific yield [kWh/kWp];
     excluded planes (no yield) are not drawn, the buildings layer shows them grey. -->
<qgis version="3.22.16-Białowieża" styleCategories="AllStyleCategories" labelsEnabled="0" hasScaleBasedVisibilityFlag="0" minScale="100000000" maxScale="0" readOnly="0">
  <flags>
    <Identifiable>1</Identifiable>
    <Removable>1</Removable>
    <Searchable>1</Searchable>
    <Private>0</Private>
  </flags>
  <renderer-v2 type="graduatedSymbol" attr="specific_yield_kwh_kwp" graduatedMethod="GraduatedColor" forceraster="0" referencescale="-1" symbollevels="0" enableorderby="0">
    <ranges>
      @@RANGES@@
    </ranges>
    <symbols>
      @@SYMBOLS@@
    </symbols>
    <classificationMethod id="Quantile">
      <symmetricMode enabled="0" symmetrypoint="0" astride="0"/>
      <labelFormat format="%1 - %2" labelprecision="0" trimtrailingzeroes="1"/>
      <parameters>
        <Option/>
      </parameters>
      <extraInformation/>
    </classificationMethod>
    <rotation/>
    <sizescale/>
  </renderer-v2>
  <blendMode>0</blendMode>
  <featureBlendMode>0</featureBlendMode>
  <layerOpacity>1</layerOpacity>
  <legend type="default-vector" showLabelLegend="0"/>
  <aliases>
    @@ALIASES@@
  </aliases>
  <previewExpression>@@PREVIEW@@</previewExpression>
  <mapTip>@@MAPTIP@@</mapTip>
  <layerGeometryType>@@GEOMTYPE@@</layerGeometryType>
</qgis>
