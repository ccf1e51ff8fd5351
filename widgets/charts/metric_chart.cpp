#include "widgets/charts/metric_chart.h"

#include "widgets/charts/chart_data.h"
#include "widgets/charts/qcustomplot_wrapper.h"

#include <QCheckBox>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QLabel>
#include <QMenu>
#include <QMessageBox>
#include <QSaveFile>
#include <QSlider>
#include <QTimer>
#include <QToolButton>
#include <QToolTip>
#include <QVBoxLayout>
#include <cmath>
#include <limits>

namespace kiln::widgets {

namespace {

// Tableau 10: distinct in light and dark themes and for the common colour blindnesses.
const QColor kRunColors[] = {QColor(0x4e, 0x79, 0xa7), QColor(0xf2, 0x8e, 0x2b), QColor(0xe1, 0x57, 0x59),
                             QColor(0x76, 0xb7, 0xb2), QColor(0x59, 0xa1, 0x4f), QColor(0xed, 0xc9, 0x48),
                             QColor(0xb0, 0x7a, 0xa1), QColor(0xff, 0x9d, 0xa7), QColor(0x9c, 0x75, 0x5f),
                             QColor(0xba, 0xb0, 0xac)};
// Per-epoch series (a few points) are told apart by dashes; per-step series (thousands) stay
// solid, because QCustomPlot's fast polylines, ~25x quicker to draw antialiased, need solid pens.
const Qt::PenStyle kEpochStyles[] = {Qt::DashLine, Qt::DotLine, Qt::DashDotLine};
constexpr int kReplotIntervalMs = 33;  // ~30 Hz, like the engine's updates

struct Curve {
    QString run, series;
    SeriesData data;
    QCPGraph* raw = nullptr;     // the values, faint, behind the smoothed line (per-step series)
    QCPGraph* shown = nullptr;   // the smoothed line, or the values themselves for per-epoch series
};

QString number(double v) { return QString::number(v, 'g', 6); }     // for people
QString exact(double v) { return QString::number(v, 'g', 15); }     // for files and step numbers

}  // namespace

struct MetricChart::Impl {
    MetricChart* q = nullptr;
    QCustomPlot* plot = nullptr;
    QCPTextElement* title = nullptr;
    QCPItemStraightLine* cursor = nullptr;
    QSlider* slider = nullptr;
    QLabel* sliderValue = nullptr;
    QCheckBox* logBox = nullptr;
    QTimer replotTimer;
    std::vector<std::unique_ptr<Curve>> curves;  // pointers stay valid as curves are added
    QStringList runOrder, seriesOrder;
    QHash<QString, QColor> colors;
    QSet<QString> perEpoch;
    int nextColor = 0;
    double weight = 0.6;
    bool log = false;
    bool follow = true;
    bool fitting = false;  // range changes made by fit() are not the user's

    Curve* find(const QString& run, const QString& series) const
    {
        for (const auto& c : curves)
            if (c->run == run && c->series == series) return c.get();
        return nullptr;
    }

    QColor colorOf(const QString& run)
    {
        auto it = colors.find(run);
        if (it == colors.end()) it = colors.insert(run, kRunColors[nextColor++ % 10]);
        return *it;
    }

    Curve& curve(const QString& run, const QString& series)
    {
        if (Curve* c = find(run, series)) return *c;
        if (!runOrder.contains(run)) runOrder << run;
        if (!seriesOrder.contains(series)) seriesOrder << series;
        auto c = std::make_unique<Curve>();
        c->run = run;
        c->series = series;
        c->data.setWeight(weight);
        c->raw = plot->addGraph();
        c->raw->removeFromLegend();
        c->shown = plot->addGraph();
        curves.push_back(std::move(c));
        style(*curves.back());
        updateNames();
        return *curves.back();
    }

    void style(Curve& c)
    {
        const bool epoch = perEpoch.contains(c.series);
        // The k-th series of a kind in this chart: per-step ones in lighter and darker shades of
        // the run's colour, per-epoch ones in dash patterns.
        int k = 0;
        for (const QString& s : seriesOrder) {
            if (s == c.series) break;
            if (perEpoch.contains(s) == epoch) ++k;
        }
        QColor color = colorOf(c.run);
        if (!epoch && k > 0) color = k % 2 ? color.lighter(100 + 35 * ((k + 1) / 2)) : color.darker(100 + 35 * (k / 2));
        QPen pen(color, 2, epoch ? kEpochStyles[k % 3] : Qt::SolidLine);
        pen.setCosmetic(true);
        c.shown->setPen(pen);
        c.shown->setScatterStyle(epoch ? QCPScatterStyle(QCPScatterStyle::ssCircle, color, color, 6) : QCPScatterStyle());
        QColor faint = color;
        faint.setAlpha(70);
        c.raw->setPen(QPen(faint, 1));
        c.raw->setVisible(!epoch && weight > 0);
    }

    void updateNames()
    {
        for (auto& c : curves)
            c->shown->setName(runOrder.size() > 1 ? c->run + QStringLiteral(" \u00b7 ") + c->series : c->series);
        plot->legend->setVisible(!curves.empty());
    }

    // Puts a curve's whole data back into its graphs (after a rewind or a smoothing change).
    void redraw(Curve& c)
    {
        const auto& d = c.data;
        c.raw->setData(d.steps(), d.values(), true);
        c.shown->setData(d.steps(), perEpoch.contains(c.series) ? d.values() : d.smoothed(), true);
    }

    void fit()
    {
        double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
        auto take = [&](const QVector<double>& v) {
            for (double y : v)
                if (std::isfinite(y) && (!log || y > 0)) y0 = std::min(y0, y), y1 = std::max(y1, y);
        };
        for (const auto& c : curves) {
            if (c->data.size() == 0) continue;
            x0 = std::min(x0, c->data.steps().front());
            x1 = std::max(x1, c->data.steps().back());
            take(perEpoch.contains(c->series) ? c->data.values() : c->data.smoothed());
            if (c->raw->visible()) take(c->data.values());
        }
        if (!(x0 <= x1)) x0 = 0, x1 = 1;
        if (!(y0 <= y1)) y0 = log ? 0.1 : 0, y1 = 1;
        if (x0 == x1) x0 -= 1, x1 += 1;
        if (y0 == y1) {
            if (log) y0 /= 2, y1 *= 2;
            else y0 -= std::max(1.0, std::abs(y0) * 0.1), y1 += std::max(1.0, std::abs(y1) * 0.1);
        }
        fitting = true;
        const double dx = (x1 - x0) * 0.02;
        plot->xAxis->setRange(x0 - dx, x1 + dx);
        if (log) {
            const double f = std::pow(y1 / y0, 0.05);
            plot->yAxis->setRange(y0 / f, y1 * f);
        } else {
            const double dy = (y1 - y0) * 0.05;
            plot->yAxis->setRange(y0 - dy, y1 + dy);
        }
        fitting = false;
    }

    // The step nearest to `step` that any series has a point at (NaN when there are none).
    double snap(double step) const
    {
        double snapped = std::numeric_limits<double>::quiet_NaN(), best = std::numeric_limits<double>::infinity();
        for (const auto& c : curves) {
            const int i = c->data.nearest(step);
            if (i >= 0 && std::abs(c->data.steps()[i] - step) < best) {
                best = std::abs(c->data.steps()[i] - step);
                snapped = c->data.steps()[i];
            }
        }
        return snapped;
    }

    void scheduleReplot()
    {
        if (!replotTimer.isActive()) replotTimer.start();
    }

    void onReplotTimer()
    {
        if (follow) fit();
        plot->replot(QCustomPlot::rpQueuedReplot);
    }

    void applyPalette()
    {
        const QPalette pal = q->palette();
        const QColor bg = pal.color(QPalette::Base), fg = pal.color(QPalette::Text);
        QColor grid = fg, legendBg = bg;
        grid.setAlpha(35);
        legendBg.setAlpha(210);
        plot->setBackground(bg);
        for (QCPAxis* axis : {plot->xAxis, plot->yAxis}) {
            axis->setBasePen(QPen(fg, 1));
            axis->setTickPen(QPen(fg, 1));
            axis->setSubTickPen(QPen(fg, 1));
            axis->setTickLabelColor(fg);
            axis->setLabelColor(fg);
            axis->grid()->setPen(QPen(grid, 1, Qt::SolidLine));
            axis->grid()->setSubGridVisible(false);
        }
        plot->legend->setBrush(legendBg);
        plot->legend->setBorderPen(QPen(grid));
        plot->legend->setTextColor(fg);
        if (title) title->setTextColor(fg);
        QColor cursorColor = fg;
        cursorColor.setAlpha(110);
        cursor->setPen(QPen(cursorColor, 1, Qt::DashLine));
    }

    void setLogAxis(bool on)
    {
        log = on;
        plot->yAxis->setScaleType(on ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
        if (on) {
            plot->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
            plot->yAxis->setNumberFormat(QStringLiteral("gb"));
        } else {
            plot->yAxis->setTicker(QSharedPointer<QCPAxisTicker>::create());
            plot->yAxis->setNumberFormat(QStringLiteral("g"));
        }
    }

    void hover(const QPoint& pos, const QPoint& globalPos)
    {
        if (curves.empty() || !plot->axisRect()->rect().contains(pos)) {
            hideCursor();
            return;
        }
        const double snapped = snap(plot->xAxis->pixelToCoord(pos.x()));
        if (std::isnan(snapped)) return;
        const QString text = q->valuesText(snapped);
        cursor->point1->setCoords(snapped, 0);
        cursor->point2->setCoords(snapped, 1);
        cursor->setVisible(true);
        plot->layer(QStringLiteral("overlay"))->replot();
        QToolTip::showText(globalPos, text, plot);
    }

    void hideCursor()
    {
        if (!cursor->visible()) return;
        cursor->setVisible(false);
        plot->layer(QStringLiteral("overlay"))->replot();
        QToolTip::hideText();
    }
};

MetricChart::MetricChart(QWidget* parent) : QWidget(parent), d_(std::make_unique<Impl>())
{
    d_->q = this;
    d_->plot = new QCustomPlot(this);
    auto* plot = d_->plot;
    plot->setMinimumSize(240, 160);
    plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    plot->axisRect()->setRangeDrag(Qt::Horizontal | Qt::Vertical);
    plot->axisRect()->setRangeZoom(Qt::Horizontal | Qt::Vertical);
    plot->xAxis->setLabel(tr("step"));
    plot->legend->setVisible(false);
    plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    plot->setNoAntialiasingOnDrag(true);
    plot->setPlottingHint(QCP::phFastPolylines, true);
    plot->layer(QStringLiteral("overlay"))->setMode(QCPLayer::lmBuffered);
    d_->cursor = new QCPItemStraightLine(plot);
    d_->cursor->setLayer(QStringLiteral("overlay"));
    d_->cursor->point1->setTypeX(QCPItemPosition::ptPlotCoords);
    d_->cursor->point2->setTypeX(QCPItemPosition::ptPlotCoords);
    d_->cursor->setVisible(false);
    plot->setMouseTracking(true);
    plot->installEventFilter(this);

    d_->replotTimer.setSingleShot(true);
    d_->replotTimer.setInterval(kReplotIntervalMs);
    connect(&d_->replotTimer, &QTimer::timeout, this, [this] { d_->onReplotTimer(); });
    // A drag or a wheel zoom is the person taking over the view: stop following new points.
    connect(plot->xAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this, [this] {
        if (!d_->fitting) d_->follow = false;
    });
    connect(plot->yAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this, [this] {
        if (!d_->fitting) d_->follow = false;
    });
    connect(plot, &QCustomPlot::mouseDoubleClick, this, [this] { resetView(); });
    connect(plot, &QCustomPlot::mouseMove, this, [this](QMouseEvent* e) {
        d_->hover(e->position().toPoint(), e->globalPosition().toPoint());
    });

    d_->slider = new QSlider(Qt::Horizontal, this);
    d_->slider->setRange(0, 999);
    d_->slider->setValue(600);
    d_->slider->setFixedWidth(90);
    d_->slider->setToolTip(tr("Exponential moving average of the per-step values, as in TensorBoard"));
    d_->sliderValue = new QLabel(QStringLiteral("0.600"), this);
    d_->sliderValue->setMinimumWidth(d_->sliderValue->fontMetrics().horizontalAdvance(QStringLiteral("0.000 ")));
    connect(d_->slider, &QSlider::valueChanged, this, [this](int v) { setSmoothing(v / 1000.0); });
    d_->logBox = new QCheckBox(tr("Log scale"), this);
    connect(d_->logBox, &QCheckBox::toggled, this, [this](bool on) { setLogScale(on); });
    auto* reset = new QToolButton(this);
    reset->setText(tr("Reset view"));
    reset->setToolTip(tr("Fit every point and follow new ones (or double-click the chart)"));
    connect(reset, &QToolButton::clicked, this, [this] { resetView(); });
    auto* exportButton = new QToolButton(this);
    exportButton->setText(tr("Export"));
    exportButton->setPopupMode(QToolButton::InstantPopup);
    auto* menu = new QMenu(exportButton);
    menu->addAction(tr("Save as PNG…"), this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, tr("Save chart as PNG"), QString(), tr("PNG images (*.png)"));
        if (!path.isEmpty() && !exportPng(path))
            QMessageBox::warning(this, tr("Export"), tr("Could not write %1.").arg(path));
    });
    menu->addAction(tr("Save as CSV…"), this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, tr("Save chart data as CSV"), QString(), tr("CSV files (*.csv)"));
        if (!path.isEmpty() && !exportCsv(path))
            QMessageBox::warning(this, tr("Export"), tr("Could not write %1.").arg(path));
    });
    exportButton->setMenu(menu);

    auto* bar = new QHBoxLayout;
    bar->setContentsMargins(4, 0, 4, 0);
    bar->addWidget(new QLabel(tr("Smoothing"), this));
    bar->addWidget(d_->slider);
    bar->addWidget(d_->sliderValue);
    bar->addSpacing(12);
    bar->addWidget(d_->logBox);
    bar->addStretch(1);
    bar->addWidget(reset);
    bar->addWidget(exportButton);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(2);
    layout->addWidget(plot, 1);
    layout->addLayout(bar);
    d_->applyPalette();
    d_->fit();
}

MetricChart::~MetricChart() = default;

void MetricChart::setTitle(const QString& text)
{
    if (!d_->title) {
        d_->plot->plotLayout()->insertRow(0);
        d_->title = new QCPTextElement(d_->plot, text, QFont(font().family(), font().pointSize() + 1, QFont::Bold));
        d_->plot->plotLayout()->addElement(0, 0, d_->title);
        d_->applyPalette();
    }
    d_->title->setText(text);
    d_->scheduleReplot();
}

void MetricChart::setValueLabel(const QString& label)
{
    d_->plot->yAxis->setLabel(label);
    d_->scheduleReplot();
}

void MetricChart::addPoint(const QString& run, const QString& series, double step, double value)
{
    Curve& c = d_->curve(run, series);
    if (c.data.append(step, value)) {
        c.raw->addData(step, value);
        c.shown->addData(step, d_->perEpoch.contains(series) ? value : c.data.smoothed().back());
    } else {
        d_->redraw(c);
    }
    d_->scheduleReplot();
}

void MetricChart::setSeriesPerEpoch(const QString& series, bool on)
{
    if (on) d_->perEpoch.insert(series);
    else d_->perEpoch.remove(series);
    for (auto& c : d_->curves)
        if (c->series == series) {
            d_->style(*c);
            d_->redraw(*c);
        }
    d_->scheduleReplot();
}

void MetricChart::setRunColor(const QString& run, const QColor& color)
{
    d_->colors[run] = color;
    for (auto& c : d_->curves)
        if (c->run == run) d_->style(*c);
    d_->scheduleReplot();
}

QColor MetricChart::runColor(const QString& run) const { return d_->colorOf(run); }

void MetricChart::removeRun(const QString& run)
{
    auto& curves = d_->curves;
    for (auto it = curves.begin(); it != curves.end();) {
        if ((*it)->run == run) {
            d_->plot->removeGraph((*it)->raw);
            d_->plot->removeGraph((*it)->shown);
            it = curves.erase(it);
        } else {
            ++it;
        }
    }
    d_->runOrder.removeAll(run);
    d_->updateNames();
    d_->scheduleReplot();
}

void MetricChart::clear()
{
    d_->plot->clearGraphs();
    d_->curves.clear();
    d_->runOrder.clear();
    d_->seriesOrder.clear();
    d_->updateNames();
    resetView();
}

void MetricChart::setSmoothing(double weight)
{
    weight = std::clamp(weight, 0.0, 0.999);
    if (weight == d_->weight) return;
    d_->weight = weight;
    {
        const QSignalBlocker block(d_->slider);
        d_->slider->setValue(static_cast<int>(std::lround(weight * 1000)));
    }
    d_->sliderValue->setText(QString::number(weight, 'f', 3));
    for (auto& c : d_->curves) {
        c->data.setWeight(weight);
        d_->style(*c);
        d_->redraw(*c);
    }
    d_->scheduleReplot();
    Q_EMIT smoothingChanged(weight);
}

double MetricChart::smoothing() const { return d_->weight; }

void MetricChart::setLogScale(bool on)
{
    if (on == d_->log) return;
    {
        const QSignalBlocker block(d_->logBox);
        d_->logBox->setChecked(on);
    }
    d_->setLogAxis(on);
    resetView();  // a linear range may start at or below zero, which a log axis cannot show
    Q_EMIT logScaleChanged(on);
}

bool MetricChart::logScale() const { return d_->log; }

void MetricChart::resetView()
{
    d_->follow = true;
    d_->fit();
    d_->scheduleReplot();
}

bool MetricChart::followsData() const { return d_->follow; }

void MetricChart::replotNow()
{
    d_->replotTimer.stop();
    if (d_->follow) d_->fit();
    d_->plot->replot(QCustomPlot::rpImmediateRefresh);
}

bool MetricChart::exportPng(const QString& path, int width, int height)
{
    replotNow();
    if (width <= 0 || height <= 0) {
        width = d_->plot->width() > 16 ? d_->plot->width() : 800;
        height = d_->plot->height() > 16 ? d_->plot->height() : 500;
    }
    return d_->plot->savePng(path, width, height);
}

QString MetricChart::toCsv() const
{
    QString out = QStringLiteral("run,series,step,value,smoothed\n");
    for (const QString& run : d_->runOrder)
        for (const QString& series : d_->seriesOrder) {
            const Curve* c = d_->find(run, series);
            if (!c) continue;
            const bool epoch = d_->perEpoch.contains(series);
            const auto& s = c->data;
            for (int i = 0; i < s.size(); ++i)
                out += csvField(run) + QLatin1Char(',') + csvField(series) + QLatin1Char(',') + exact(s.steps()[i]) +
                       QLatin1Char(',') + exact(s.values()[i]) + QLatin1Char(',') +
                       exact(epoch ? s.values()[i] : s.smoothed()[i]) + QLatin1Char('\n');
        }
    return out;
}

bool MetricChart::exportCsv(const QString& path) const
{
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Text)) return false;
    f.write(toCsv().toUtf8());
    return f.commit();
}

QStringList MetricChart::runs() const { return d_->runOrder; }

QStringList MetricChart::seriesOf(const QString& run) const
{
    QStringList out;
    for (const QString& s : d_->seriesOrder)
        if (d_->find(run, s)) out << s;
    return out;
}

QVector<double> MetricChart::steps(const QString& run, const QString& series) const
{
    const Curve* c = d_->find(run, series);
    return c ? c->data.steps() : QVector<double>();
}

QVector<double> MetricChart::values(const QString& run, const QString& series) const
{
    const Curve* c = d_->find(run, series);
    return c ? c->data.values() : QVector<double>();
}

QVector<double> MetricChart::smoothedValues(const QString& run, const QString& series) const
{
    const Curve* c = d_->find(run, series);
    return c ? c->data.smoothed() : QVector<double>();
}

int MetricChart::plottedPointCount(const QString& run, const QString& series) const
{
    const Curve* c = d_->find(run, series);
    return c ? c->shown->dataCount() : 0;
}

QString MetricChart::valuesText(double step) const
{
    // Snap to the nearest step any series has, then show each series' point nearest to it.
    const double snapped = d_->snap(step);
    if (std::isnan(snapped)) return {};
    QString text = QStringLiteral("step ") + exact(snapped);
    for (const auto& c : d_->curves) {
        const int i = c->data.nearest(snapped);
        if (i < 0) continue;
        const bool epoch = d_->perEpoch.contains(c->series);
        text += QLatin1Char('\n') + c->shown->name() + QStringLiteral(": ") + number(c->data.values()[i]);
        if (!epoch && d_->weight > 0) text += QStringLiteral(" (smoothed ") + number(c->data.smoothed()[i]) + QLatin1Char(')');
        if (c->data.steps()[i] != snapped) text += QStringLiteral(" at step ") + exact(c->data.steps()[i]);
    }
    return text;
}

QPair<double, double> MetricChart::stepRange() const
{
    return {d_->plot->xAxis->range().lower, d_->plot->xAxis->range().upper};
}

QPair<double, double> MetricChart::valueRange() const
{
    return {d_->plot->yAxis->range().lower, d_->plot->yAxis->range().upper};
}

void MetricChart::changeEvent(QEvent* event)
{
    QWidget::changeEvent(event);
    if (event->type() == QEvent::PaletteChange || event->type() == QEvent::StyleChange) {
        d_->applyPalette();
        d_->scheduleReplot();
    }
}

bool MetricChart::eventFilter(QObject* watched, QEvent* event)
{
    if (watched == d_->plot && event->type() == QEvent::Leave) d_->hideCursor();
    return QWidget::eventFilter(watched, event);
}

}  // namespace kiln::widgets
