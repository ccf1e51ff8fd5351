// A live chart of training metrics (QCustomPlot inside, kept out of this header: it costs ~12 s
// to parse). It knows nothing of the engine: points arrive as (run, series, step, value).
// Several runs overlay in their own colours; series of one run differ by line style. Per-step
// series are smoothed like TensorBoard's (raw line faint behind the smoothed one); per-epoch
// series are drawn with markers and never smoothed. Wheel zooms, drag pans, double-click or
// "Reset view" fits the data again; hovering shows every series' value at that step.
#pragma once

#include <QColor>
#include <QString>
#include <QStringList>
#include <QVector>
#include <QWidget>
#include <memory>

namespace kiln::widgets {

class MetricChart : public QWidget {
    Q_OBJECT

public:
    explicit MetricChart(QWidget* parent = nullptr);
    ~MetricChart() override;

    void setTitle(const QString& title);
    void setValueLabel(const QString& label);  // the y axis; the x axis is "step"

    // Cheap enough to call for every metric: the plot redraws at most ~30 times a second.
    // A step at or before the series' last one means the run went back to a checkpoint: the
    // points from there on are replaced.
    void addPoint(const QString& run, const QString& series, double step, double value);
    void setSeriesPerEpoch(const QString& series, bool perEpoch = true);
    void setRunColor(const QString& run, const QColor& color);
    QColor runColor(const QString& run) const;
    void removeRun(const QString& run);
    void clear();

    void setSmoothing(double weight);  // 0 (off) .. 0.999
    double smoothing() const;
    void setLogScale(bool on);
    bool logScale() const;
    // Fits every point again and follows new ones (after a zoom or pan it stops following).
    void resetView();
    bool followsData() const;

    // width/height 0: the chart's size (800x500 if it has none yet).
    bool exportPng(const QString& path, int width = 0, int height = 0);
    // run,series,step,value,smoothed: one row per point, in run, series and step order.
    QString toCsv() const;
    bool exportCsv(const QString& path) const;

    QStringList runs() const;
    QStringList seriesOf(const QString& run) const;
    QVector<double> steps(const QString& run, const QString& series) const;
    QVector<double> values(const QString& run, const QString& series) const;
    QVector<double> smoothedValues(const QString& run, const QString& series) const;
    int plottedPointCount(const QString& run, const QString& series) const;  // what the plot draws now
    // The hover text at a step: "step N" and a line per series with its nearest value.
    QString valuesText(double step) const;
    // The plotted range, for tests and for restoring a view.
    QPair<double, double> stepRange() const;
    QPair<double, double> valueRange() const;
    void replotNow();  // skips the throttle (before a grab or an export)

Q_SIGNALS:
    void smoothingChanged(double weight);
    void logScaleChanged(bool on);

protected:
    void changeEvent(QEvent* event) override;
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    struct Impl;
    std::unique_ptr<Impl> d_;
};

}  // namespace kiln::widgets
