# The metric chart (widgets/charts), offscreen. It also leaves metric_chart.png and
# metric_chart_dark.png in its working folder (or $KILN_SCREENSHOT_DIR) to be looked at.
kiln_add_qt_test(test_metric_chart SOURCES test_metric_chart.cpp LIBS kiln::widgets LABELS gui GUI)
