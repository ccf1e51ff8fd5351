// The numbers behind a metric chart, without any plotting: per (run, series) the points in step
// order and their TensorBoard-style smoothing, kept up to date one point at a time.
#pragma once

#include <QString>
#include <QStringList>
#include <QVector>

namespace kiln::widgets {

// TensorBoard's debiased exponential moving average: last = last * w + (1 - w) * v, shown as
// last / (1 - w^n) after n finite values; non-finite values pass through and are not averaged.
QVector<double> emaSmooth(const QVector<double>& values, double weight);

class SeriesData {
public:
    // Returns false when the step went back (a run resumed from an earlier checkpoint): the
    // points from that step on were dropped before this one was added, so the owner redraws.
    bool append(double step, double value);
    void setWeight(double weight);  // recomputes every smoothed value
    void clear();

    const QVector<double>& steps() const { return steps_; }
    const QVector<double>& values() const { return values_; }
    const QVector<double>& smoothed() const { return smoothed_; }
    int size() const { return static_cast<int>(steps_.size()); }
    // Index of the point nearest to `step` (-1 when empty).
    int nearest(double step) const;

private:
    double smoothOne(double value);
    QVector<double> steps_, values_, smoothed_;
    double weight_ = 0, last_ = 0;
    int count_ = 0;
};

// RFC 4180 quoting for one CSV field.
QString csvField(const QString& s);

}  // namespace kiln::widgets
