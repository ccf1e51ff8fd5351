// What the Generate panel tests share: the tiny SD model set up in a temporary folder, a form filled
// for it, test images and masks, init-image loading, running a job to its image (and the UI stall probe,
// from ui_stall_probe.h).
#pragma once

#include "../engine/sd_test_models.h"
#include "kiln/generate.h"
#include "panels/generate_init_image.h"
#include "panels/generate_panel.h"
#include "qt/engine_thread.h"
#include "ui_stall_probe.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QImage>
#include <QListWidget>
#include <QPointer>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include <cstring>
#include <functional>

namespace kiln::generatetest {

using kiln::app::GenerateInitImage;
using kiln::app::GeneratePanel;

// Settings in `dir`, and the tiny model written there in the diffusers layout; its folder, or an
// empty string after a failed check.
inline QString setUpTinyModel(const QTemporaryDir& dir)
{
    QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, dir.filePath(QStringLiteral("settings")));
    QCoreApplication::setOrganizationName(QStringLiteral("KilnTests"));
    auto tiny = kiln::sdtest::makeTinySd();
    if (!tiny.ok()) return {};
    const QString model = dir.filePath(QStringLiteral("tiny-sd"));
    auto written = kiln::sdtest::writeTinySdDiffusers(model.toStdString(), *tiny);
    if (!written.ok()) {
        qWarning("%s", written.error().message().c_str());
        return {};
    }
    return model;
}

using kiln::testing::longestStall;

inline void fillForm(GeneratePanel& panel, const QString& model, int steps)
{
    panel.setModelPath(model);
    panel.setTokenizerDir({});
    panel.setVaePath({});
    panel.setPrompt(QStringLiteral("a (bc:1.3), aa <lora:none:0.5>"), QStringLiteral("b"));
    panel.setSize(64, 64);
    panel.setSteps(steps);
    panel.setSeed(42);
}

// A pattern with detail everywhere, so a pixel that changed cannot hide.
inline QImage pattern(int w, int h)
{
    QImage image(w, h, QImage::Format_RGB888);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            image.setPixelColor(x, y, QColor((x * 37) % 256, (y * 53) % 256, (x * y) % 256));
    return image;
}

inline QImage leftHalfMask(int w, int h)
{
    QImage mask(w, h, QImage::Format_Grayscale8);
    mask.fill(0);
    for (int y = 0; y < h; ++y) std::memset(mask.scanLine(y), 255, static_cast<std::size_t>(w / 2));
    return mask;
}

// Starts a load and waits for its answer (the read runs on the thread pool).
inline bool loadAndWait(GenerateInitImage* init, const std::function<void()>& start)
{
    QSignalSpy done(init, &GenerateInitImage::imageLoaded);
    start();
    if (done.isEmpty() && !done.wait(20000)) return false;
    return done.first().first().toBool();
}

inline bool load(GenerateInitImage* init, const QString& path)
{
    return loadAndWait(init, [&] { init->loadFile(path); });
}

inline QByteArray hugeBmpHeader()
{
    QByteArray bmp(54, '\0');
    auto put32 = [&bmp](int at, quint32 v) {
        for (int i = 0; i < 4; ++i) bmp[at + i] = char((v >> (8 * i)) & 0xff);
    };
    bmp[0] = 'B';
    bmp[1] = 'M';
    put32(2, 54);
    put32(10, 54);
    put32(14, 40);
    put32(18, 12000);  // 108 megapixels; each side within what Qt's BMP reader accepts
    put32(22, 9000);
    bmp[26] = 1;
    bmp[28] = 24;
    return bmp;
}

// Runs the panel's job to the end; the first gallery image, or a null one (with a failure) when none came.
inline QImage runToImage(GeneratePanel& panel)
{
    const int before = panel.gallery()->count();
    QPointer<kiln::qt::JobHandle> job = panel.generate();
    if (!job) {
        qWarning("no job: %s", qPrintable(panel.statusText()));
        return {};
    }
    QElapsedTimer clock;
    clock.start();
    while (job && !job->isFinished() && clock.elapsed() < 120000) QTest::qWait(10);
    if (!job || job->state() != kiln::JobState::Succeeded) {
        qWarning("job failed: %s", job ? qPrintable(job->errorText()) : "gone");
        return {};
    }
    QTest::qWait(50);  // the image arrives by queued call
    if (panel.gallery()->count() <= before) return {};
    return panel.gallery()->item(before)->data(Qt::UserRole).value<QImage>().convertToFormat(QImage::Format_RGB888);
}

}  // namespace kiln::generatetest
