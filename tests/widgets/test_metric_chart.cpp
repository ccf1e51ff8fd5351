// The metric chart, offscreen: points reach the plot, smoothing is TensorBoard's EMA, the log
// scale, hover text, zoom and reset, several runs, and the PNG and CSV exports.
#include "widgets/charts/chart_data.h"
#include "widgets/charts/metric_chart.h"

#include <QApplication>
#include <QCheckBox>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QImage>
#include <QSet>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QWheelEvent>
#include <cmath>
#include <random>

using kiln::widgets::MetricChart;

namespace {

// The formula written out again, independently of the chart's code.
QVector<double> tensorBoardEma(const QVector<double>& v, double w)
{
    QVector<double> out;
    double last = 0;
    int n = 0;
    for (double x : v) {
        last = last * w + (1 - w) * x;
        ++n;
        out << last / (1 - std::pow(w, n));
    }
    return out;
}

QWidget* plotOf(MetricChart& chart)
{
    for (auto* w : chart.findChildren<QWidget*>())
        if (QByteArray(w->metaObject()->className()) == "QCustomPlot") return w;
    return nullptr;
}

// A plausible training run: falling noisy loss per step, validation loss per epoch.
void feedRun(MetricChart& chart, const QString& run, double speed, unsigned seed)
{
    std::mt19937 rng(seed);
    std::normal_distribution<double> noise(0, 0.12);
    for (int s = 1; s <= 1200; ++s) {
        const double loss = 2.3 * std::exp(-s / (250.0 * speed)) + 0.28;
        chart.addPoint(run, QStringLiteral("train/loss"), s, std::max(0.05, loss * (1 + noise(rng))));
        if (s % 200 == 0) chart.addPoint(run, QStringLiteral("val/loss"), s, loss * 1.12 + 0.04);
    }
}

}  // namespace

class TestMetricChart : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void pointsReachThePlot()
    {
        MetricChart chart;
        chart.resize(700, 420);
        for (int s = 1; s <= 500; ++s) chart.addPoint(QStringLiteral("run1"), QStringLiteral("train/loss"), s, 1.0 / s);
        QCOMPARE(chart.plottedPointCount(QStringLiteral("run1"), QStringLiteral("train/loss")), 500);
        QCOMPARE(chart.runs(), QStringList{QStringLiteral("run1")});
        QCOMPARE(chart.steps(QStringLiteral("run1"), QStringLiteral("train/loss")).back(), 500.0);
        // The view follows the data once the throttled replot has run.
        QTRY_VERIFY(chart.stepRange().second >= 500);
        QVERIFY(chart.stepRange().first <= 1);
        QVERIFY(chart.valueRange().second >= 1.0);

        // A step that goes back (a resume from a checkpoint) replaces what came after it.
        chart.addPoint(QStringLiteral("run1"), QStringLiteral("train/loss"), 300, 7.0);
        QCOMPARE(chart.steps(QStringLiteral("run1"), QStringLiteral("train/loss")).size(), 300);
        QCOMPARE(chart.values(QStringLiteral("run1"), QStringLiteral("train/loss")).back(), 7.0);
        QCOMPARE(chart.plottedPointCount(QStringLiteral("run1"), QStringLiteral("train/loss")), 300);
    }

    void smoothingIsTensorBoardsEma()
    {
        MetricChart chart;
        QVector<double> v;
        std::mt19937 rng(1);
        std::uniform_real_distribution<double> u(0, 3);
        for (int i = 0; i < 200; ++i) v << u(rng);
        for (int i = 0; i < v.size(); ++i) chart.addPoint(QStringLiteral("r"), QStringLiteral("loss"), i + 1, v[i]);
        for (double w : {0.6, 0.0, 0.9, 0.999}) {
            chart.setSmoothing(w);
            const auto got = chart.smoothedValues(QStringLiteral("r"), QStringLiteral("loss"));
            const auto want = w == 0 ? v : tensorBoardEma(v, w);
            QCOMPARE(got.size(), want.size());
            for (int i = 0; i < got.size(); ++i) QVERIFY(std::abs(got[i] - want[i]) < 1e-12);
        }
        QCOMPARE(kiln::widgets::emaSmooth({1, 1, 1}, 0.9), (QVector<double>{1, 1, 1}));  // debiased: no ramp from 0
        // A NaN passes through without poisoning what follows.
        const auto nan = kiln::widgets::emaSmooth({1, std::nan(""), 3}, 0.5);
        QVERIFY(std::isnan(nan[1]));
        QVERIFY(std::abs(nan[2] - (0.5 * 0.5 + 0.5 * 3) / 0.75) < 1e-12);
        // Per-epoch series are never smoothed.
        chart.setSeriesPerEpoch(QStringLiteral("val/acc"));
        chart.addPoint(QStringLiteral("r"), QStringLiteral("val/acc"), 100, 0.5);
        chart.addPoint(QStringLiteral("r"), QStringLiteral("val/acc"), 200, 0.9);
        QVERIFY(chart.toCsv().contains(QStringLiteral("r,val/acc,200,0.9,0.9\n")));
        QSignalSpy spy(&chart, &MetricChart::smoothingChanged);
        chart.setSmoothing(0.25);
        QCOMPARE(spy.count(), 1);
    }

    void logScaleToggles()
    {
        MetricChart chart;
        chart.resize(600, 400);
        for (int s = 1; s <= 100; ++s) chart.addPoint(QStringLiteral("r"), QStringLiteral("loss"), s, 10.0 * std::exp(-s / 10.0) - 0.01);
        chart.replotNow();
        QVERIFY(chart.valueRange().first < 0);
        QSignalSpy spy(&chart, &MetricChart::logScaleChanged);
        auto* box = chart.findChild<QCheckBox*>();
        QVERIFY(box);
        box->click();  // as a person would
        QVERIFY(chart.logScale());
        QCOMPARE(spy.count(), 1);
        chart.replotNow();
        QVERIFY(chart.valueRange().first > 0);  // a log axis cannot start at or below zero
        QVERIFY(chart.valueRange().second > 9);
        chart.setLogScale(false);
        QVERIFY(!box->isChecked());
        QCOMPARE(spy.count(), 2);
    }

    void hoverShowsEverySeriesAtAStep()
    {
        MetricChart chart;
        chart.setSmoothing(0);
        for (int s = 1; s <= 50; ++s) {
            chart.addPoint(QStringLiteral("a"), QStringLiteral("train/loss"), s, s * 0.5);
            chart.addPoint(QStringLiteral("b"), QStringLiteral("train/loss"), s, s * 0.25);
        }
        chart.setSeriesPerEpoch(QStringLiteral("val/loss"));
        chart.addPoint(QStringLiteral("a"), QStringLiteral("val/loss"), 25, 3.0);
        const QString text = chart.valuesText(10.3);
        QVERIFY2(text.startsWith(QStringLiteral("step 10\n")), qPrintable(text));
        QVERIFY2(text.contains(QStringLiteral("a \u00b7 train/loss: 5\n")), qPrintable(text));
        QVERIFY(text.contains(QStringLiteral("b \u00b7 train/loss: 2.5")));
        QVERIFY(text.contains(QStringLiteral("a \u00b7 val/loss: 3 at step 25")));
        chart.setSmoothing(0.5);
        QVERIFY(chart.valuesText(10).contains(QStringLiteral("(smoothed ")));
        QVERIFY(MetricChart().valuesText(3).isEmpty());
    }

    void wheelZoomsAndResetFits()
    {
        MetricChart chart;
        chart.resize(700, 420);
        chart.show();
        QVERIFY(QTest::qWaitForWindowExposed(&chart));
        for (int s = 1; s <= 1000; ++s) chart.addPoint(QStringLiteral("r"), QStringLiteral("loss"), s, 1.0 + std::sin(s / 50.0));
        chart.replotNow();
        const auto full = chart.stepRange();
        QWidget* plot = plotOf(chart);
        QVERIFY(plot);
        const QPointF centre(plot->width() / 2.0, plot->height() / 2.0);
        QWheelEvent wheel(centre, plot->mapToGlobal(centre), QPoint(), QPoint(0, 240), Qt::NoButton, Qt::NoModifier,
                          Qt::NoScrollPhase, false);
        QApplication::sendEvent(plot, &wheel);
        const auto zoomed = chart.stepRange();
        QVERIFY(zoomed.second - zoomed.first < 0.8 * (full.second - full.first));
        QVERIFY(!chart.followsData());
        // New points do not yank the view back while the person looks at a part of it.
        chart.addPoint(QStringLiteral("r"), QStringLiteral("loss"), 2000, 1.0);
        chart.replotNow();
        QCOMPARE(chart.stepRange(), zoomed);
        // A drag pans.
        QTest::mousePress(plot, Qt::LeftButton, Qt::NoModifier, centre.toPoint());
        QTest::mouseMove(plot, centre.toPoint() + QPoint(120, 0));
        QTest::mouseRelease(plot, Qt::LeftButton, Qt::NoModifier, centre.toPoint() + QPoint(120, 0));
        QVERIFY(chart.stepRange().first < zoomed.first);
        chart.resetView();
        chart.replotNow();
        QVERIFY(chart.followsData());
        QVERIFY(chart.stepRange().first <= 1 && chart.stepRange().second >= 2000);
    }

    void runsOverlayInTheirOwnColours()
    {
        MetricChart chart;
        feedRun(chart, QStringLiteral("baseline"), 1.0, 1);
        feedRun(chart, QStringLiteral("wider"), 0.7, 2);
        QCOMPARE(chart.runs(), (QStringList{QStringLiteral("baseline"), QStringLiteral("wider")}));
        QVERIFY(chart.runColor(QStringLiteral("baseline")) != chart.runColor(QStringLiteral("wider")));
        chart.setRunColor(QStringLiteral("wider"), Qt::magenta);
        QCOMPARE(chart.runColor(QStringLiteral("wider")), QColor(Qt::magenta));
        QCOMPARE(chart.seriesOf(QStringLiteral("wider")), (QStringList{QStringLiteral("train/loss"), QStringLiteral("val/loss")}));
        chart.removeRun(QStringLiteral("baseline"));
        QCOMPARE(chart.runs(), QStringList{QStringLiteral("wider")});
        QCOMPARE(chart.plottedPointCount(QStringLiteral("baseline"), QStringLiteral("train/loss")), 0);
        chart.clear();
        QVERIFY(chart.runs().isEmpty());
    }

    void csvHoldsEveryPoint()
    {
        QTemporaryDir dir;
        MetricChart chart;
        chart.setSmoothing(0.5);
        chart.addPoint(QStringLiteral("lr=1e-3, bs=64"), QStringLiteral("train/loss"), 1, 2.0);
        chart.addPoint(QStringLiteral("lr=1e-3, bs=64"), QStringLiteral("train/loss"), 2, 1.0);
        chart.addPoint(QStringLiteral("b"), QStringLiteral("train/loss"), 1, 0.125);
        const QString path = dir.filePath(QStringLiteral("m.csv"));
        QVERIFY(chart.exportCsv(path));
        QFile f(path);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QString want = QStringLiteral(
            "run,series,step,value,smoothed\n"
            "\"lr=1e-3, bs=64\",train/loss,1,2,2\n"
            "\"lr=1e-3, bs=64\",train/loss,2,1,1.33333333333333\n"
            "b,train/loss,1,0.125,0.125\n");
        QCOMPARE(QString::fromUtf8(f.readAll()), want);
        QVERIFY(!chart.exportCsv(dir.filePath(QStringLiteral("no/such/dir/m.csv"))));
    }

    void pngIsAPicture()
    {
        QTemporaryDir dir;
        MetricChart chart;
        chart.setTitle(QStringLiteral("Loss"));
        chart.setValueLabel(QStringLiteral("loss"));
        chart.setSeriesPerEpoch(QStringLiteral("val/loss"));
        feedRun(chart, QStringLiteral("baseline"), 1.0, 1);
        const QString path = dir.filePath(QStringLiteral("chart.png"));
        QVERIFY(chart.exportPng(path, 640, 400));
        QImage img(path);
        QCOMPARE(img.size(), QSize(640, 400));
        QSet<QRgb> colours;
        int runColoured = 0;
        const QColor run = chart.runColor(QStringLiteral("baseline"));
        for (int y = 0; y < img.height(); y += 2)
            for (int x = 0; x < img.width(); x += 2) {
                const QColor c = img.pixelColor(x, y);
                colours.insert(c.rgb());
                if (std::abs(c.red() - run.red()) + std::abs(c.green() - run.green()) + std::abs(c.blue() - run.blue()) < 30)
                    ++runColoured;
            }
        QVERIFY2(colours.size() > 20, qPrintable(QString::number(colours.size())));
        QVERIFY2(runColoured > 300, qPrintable(QString::number(runColoured)));
    }

    void manyPointsStayCheap()
    {
        MetricChart chart;
        chart.resize(900, 500);
        chart.show();
        QVERIFY(QTest::qWaitForWindowExposed(&chart));
        QElapsedTimer t;
        t.start();
        for (int s = 1; s <= 20000; ++s)
            for (const auto* series : {"train/loss", "lr", "throughput/samples_per_s"})
                chart.addPoint(QStringLiteral("run"), QString::fromLatin1(series), s, 1.0 + std::sin(s * 0.01));
        const auto appendMs = t.elapsed();
        t.restart();
        chart.replotNow();
        const auto firstMs = t.elapsed();
        t.restart();
        chart.addPoint(QStringLiteral("run"), QStringLiteral("lr"), 20001, 1.0);
        chart.replotNow();
        const auto replotMs = t.elapsed();
        qInfo("first replot %lld ms", static_cast<long long>(firstMs));
        qInfo("60000 points appended in %lld ms; one replot with smoothing in %lld ms", static_cast<long long>(appendMs),
              static_cast<long long>(replotMs));
        QVERIFY(appendMs < 2000);
        QVERIFY(replotMs < 100);  // loose on a shared machine; measured ~10 ms (fast polylines, adaptive sampling)
    }

    // Not an assertion: pictures of the chart for a person to look at (light and dark).
    void screenshots()
    {
        for (bool dark : {false, true}) {
            MetricChart chart;
            if (dark) {
                QPalette p = chart.palette();
                p.setColor(QPalette::Window, QColor(0x2b, 0x2d, 0x30));
                p.setColor(QPalette::Base, QColor(0x1e, 0x1f, 0x22));
                p.setColor(QPalette::Text, QColor(0xdf, 0xe1, 0xe5));
                p.setColor(QPalette::WindowText, QColor(0xdf, 0xe1, 0xe5));
                chart.setPalette(p);
            }
            chart.resize(900, 520);
            chart.setTitle(QStringLiteral("Loss"));
            chart.setValueLabel(QStringLiteral("loss"));
            chart.setSeriesPerEpoch(QStringLiteral("val/loss"));
            feedRun(chart, QStringLiteral("convnet-adamw"), 1.0, 1);
            feedRun(chart, QStringLiteral("convnet-sgd"), 1.6, 2);
            chart.show();
            QVERIFY(QTest::qWaitForWindowExposed(&chart));
            chart.replotNow();
            const QString dirPath = qEnvironmentVariable("KILN_SCREENSHOT_DIR", QDir::currentPath());
            const QString name = dark ? QStringLiteral("metric_chart_dark.png") : QStringLiteral("metric_chart.png");
            QVERIFY(chart.grab().save(dirPath + QLatin1Char('/') + name));
        }
    }
};

QTEST_MAIN(TestMetricChart)
#include "test_metric_chart.moc"
