# The metric chart (widgets/charts): paths relative to widgets/. qcustomplot.h is included only
# by metric_chart.cpp, through qcustomplot_wrapper.h.
set(KILN_CHART_SOURCES
  charts/chart_data.cpp
  charts/metric_chart.cpp
)
