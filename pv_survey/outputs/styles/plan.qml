<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<!-- pv-survey default style of the "plan" layer (template; @@...@@ are filled by
     pv_survey.outputs.styles): building sites coloured by installation phase. -->
<qgis version="3.22.16-Białowieża" styleCategories="AllStyleCategories" labelsEnabled="0" hasScaleBasedVisibilityFlag="0" minScale="100000000" maxScale="0" readOnly="0">
  <flags>
    <Identifiable>1</Identifiable>
    <Removable>1</Removable>
    <Searchable>1</Searchable>
    <Private>0</Private>
  </flags>
  <renderer-v2 type="categorizedSymbol" attr="phase" forceraster="0" referencescale="-1" symbollevels="0" enableorderby="0">
    <categories>
      @@CATEGORIES@@
    </categories>
    <symbols>
      @@SYMBOLS@@
    </symbols>
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
  <previewExpression>"rank" || ' ' || coalesce("name", "building_id")</previewExpression>
  <mapTip>@@MAPTIP@@</mapTip>
  <layerGeometryType>2</layerGeometryType>
</qgis>
