<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<!-- pv-survey default style of a table without its own symbology (targets, coverage,
     category_shares, later resource layers): bilingual field aliases (template; @@...@@ are filled by
     pv_survey.outputs.styles). -->
<qgis version="3.22.16-Białowieża" styleCategories="AllStyleCategories" readOnly="0">
  <flags>
    <Identifiable>1</Identifiable>
    <Removable>1</Removable>
    <Searchable>1</Searchable>
    <Private>0</Private>
  </flags>
  <aliases>
    @@ALIASES@@
  </aliases>
  <previewExpression>@@PREVIEW@@</previewExpression>
  <layerGeometryType>@@GEOMTYPE@@</layerGeometryType>
</qgis>
