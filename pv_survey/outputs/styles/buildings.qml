<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<!-- pv-survey default style of the "buildings" layer (template; @@...@@ are filled by
     pv_survey.outputs.styles). Kept buildings light, excluded buildings grey with the reason
     as label and map tip, public institutions outlined in dark blue. Labels show from 1:5,000
     (a city block on screen; project choice) so the district view stays readable; the label
     wraps at "/" between the English and the Chinese reason. -->
<qgis version="3.22.16-Białowieża" styleCategories="AllStyleCategories" labelsEnabled="1" hasScaleBasedVisibilityFlag="0" minScale="100000000" maxScale="0" readOnly="0">
  <flags>
    <Identifiable>1</Identifiable>
    <Removable>1</Removable>
    <Searchable>1</Searchable>
    <Private>0</Private>
  </flags>
  <renderer-v2 type="RuleRenderer" forceraster="0" referencescale="-1" symbollevels="0" enableorderby="0">
    <rules key="{6f1c3a52-0b5e-4d0e-9a51-2f4b8d0c0001}">
      <rule key="{6f1c3a52-0b5e-4d0e-9a51-2f4b8d0c0002}" symbol="0" label="@@LABEL_KEPT@@" filter="coalesce(&quot;excluded_reason&quot;, '') = ''"/>
      <rule key="{6f1c3a52-0b5e-4d0e-9a51-2f4b8d0c0003}" symbol="1" label="@@LABEL_EXCLUDED@@" filter="coalesce(&quot;excluded_reason&quot;, '') &lt;&gt; ''"/>
      <rule key="{6f1c3a52-0b5e-4d0e-9a51-2f4b8d0c0004}" symbol="2" label="@@LABEL_PUBLIC@@" filter="&quot;category&quot; IN (@@PUBLIC_LIST@@)"/>
    </rules>
    <symbols>
      @@SYMBOLS@@
    </symbols>
  </renderer-v2>
  <labeling type="simple">
    <settings calloutType="simple">
      <text-style fieldName="CASE WHEN coalesce(&quot;excluded_reason&quot;, '') &lt;&gt; '' THEN &quot;excluded_reason&quot; END" isExpression="1" fontFamily="Microsoft YaHei" namedStyle="Regular" fontSize="8" fontSizeUnit="Point" textColor="70,70,70,255" textOpacity="1" fontWeight="50" fontItalic="0" fontUnderline="0" fontStrikeout="0" multilineHeight="1" allowHtml="0" useSubstitutions="0" capitalization="0" blendMode="0">
        <families>
          <family name="Microsoft YaHei"/>
          <family name="Noto Sans CJK SC"/>
          <family name="WenQuanYi Micro Hei"/>
          <family name="SimHei"/>
          <family name="Sans Serif"/>
        </families>
        <text-buffer bufferDraw="1" bufferSize="0.8" bufferSizeUnits="MM" bufferColor="255,255,255,255" bufferOpacity="0.8" bufferNoFill="1" bufferJoinStyle="128" bufferBlendMode="0"/>
      </text-style>
      <text-format wrapChar="/" autoWrapLength="24" useMaxLineLengthForAutoWrap="1" multilineAlign="3" formatNumbers="0" decimals="3" plussign="0" addDirectionSymbol="0"/>
      <placement placement="1" centroidInside="1" centroidWhole="0" fitInPolygonOnly="0" dist="0" distUnits="MM" offsetType="0" quadOffset="4" xOffset="0" yOffset="0" offsetUnits="MM" priority="5" rotationAngle="0" layerType="PolygonGeometry" polygonPlacementFlags="2" placementFlags="10"/>
      <rendering drawLabels="1" scaleVisibility="1" scaleMin="1" scaleMax="5000" obstacle="1" obstacleFactor="1" obstacleType="1" displayAll="0" labelPerPart="0" mergeLines="0" limitNumLabels="0" maxNumLabels="2000" minFeatureSize="0" fontLimitPixelSize="0" fontMinPixelSize="0" fontMaxPixelSize="10000" upsidedownLabels="0" zIndex="0" unplacedVisibility="0"/>
    </settings>
  </labeling>
  <blendMode>0</blendMode>
  <featureBlendMode>0</featureBlendMode>
  <layerOpacity>1</layerOpacity>
  <legend type="default-vector" showLabelLegend="0"/>
  <aliases>
    @@ALIASES@@
  </aliases>
  <previewExpression>coalesce("name", "building_id")</previewExpression>
  <mapTip>@@MAPTIP@@</mapTip>
  <layerGeometryType>2</layerGeometryType>
</qgis>
