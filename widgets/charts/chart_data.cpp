#include "widgets/charts/chart_data.h"

#include <algorithm>
#include <cmath>

namespace kiln::widgets {

QVector<double> emaSmooth(const QVector<double>& values, double weight)
{
    SeriesData s;
    s.setWeight(weight);
    for (int i = 0; i < values.size(); ++i) s.append(i, values[i]);
    return s.smoothed();
}

double SeriesData::smoothOne(double value)
{
    if (!std::isfinite(value)) return value;
    last_ = last_ * weight_ + (1 - weight_) * value;
    ++count_;
    const double debias = weight_ >= 1 ? 1.0 : 1.0 - std::pow(weight_, count_);
    return debias > 0 ? last_ / debias : value;
}

bool SeriesData::append(double step, double value)
{
    bool inOrder = true;
    if (!steps_.isEmpty() && step <= steps_.back()) {
        const auto from = std::lower_bound(steps_.begin(), steps_.end(), step) - steps_.begin();
        steps_.resize(from);
        values_.resize(from);
        inOrder = false;
    }
    steps_.push_back(step);
    values_.push_back(value);
    if (inOrder) smoothed_.push_back(smoothOne(value));
    else setWeight(weight_);
    return inOrder;
}

void SeriesData::setWeight(double weight)
{
    weight_ = std::clamp(weight, 0.0, 0.999);
    last_ = 0;
    count_ = 0;
    smoothed_.clear();
    smoothed_.reserve(values_.size());
    for (double v : values_) smoothed_.push_back(smoothOne(v));
}

void SeriesData::clear()
{
    steps_.clear();
    values_.clear();
    smoothed_.clear();
    last_ = 0;
    count_ = 0;
}

int SeriesData::nearest(double step) const
{
    if (steps_.isEmpty()) return -1;
    const auto it = std::lower_bound(steps_.begin(), steps_.end(), step);
    if (it == steps_.end()) return size() - 1;
    const auto i = static_cast<int>(it - steps_.begin());
    if (i > 0 && step - steps_[i - 1] < *it - step) return i - 1;
    return i;
}

QString csvField(const QString& s)
{
    if (!s.contains(QLatin1Char(',')) && !s.contains(QLatin1Char('"')) && !s.contains(QLatin1Char('\n'))) return s;
    QString q = s;
    q.replace(QLatin1String("\""), QLatin1String("\"\""));
    return QLatin1Char('"') + q + QLatin1Char('"');
}

}  // namespace kiln::widgets
