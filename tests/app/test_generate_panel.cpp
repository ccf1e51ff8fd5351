// The Generate panel, offscreen, on a tiny seeded SD model in the diffusers layout: it generates into the
// gallery without stalling the UI, saves PNGs whose `parameters` text reads back, restores the form from a
// dropped PNG, cancels within a step and says what is wrong with a bad model; img2img and inpainting from an
// init image and a painted mask, Send to img2img from the gallery, and the ETA of a running job.
#include "../engine/sd_test_models.h"
#include "kiln/generate.h"
#include "panels/generate_init_image.h"
#include "panels/generate_panel.h"
#include "panels/generate_progress.h"
#include "qt/engine_thread.h"

#include <QApplication>
#include <QClipboard>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QMimeData>
#include <QElapsedTimer>
#include <QImage>
#include <QLabel>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QTabBar>
#include <QTextBlock>
#include <QTextLayout>
#include <QSettings>
#include <QSignalSpy>
#include <QBuffer>
#include <QTemporaryDir>
#include <QSpinBox>
#include <QTest>
#include <QTimer>

#include "widgets/mask_editor.h"

#include <cstdint>
#include <cstring>
#include <functional>
#include <vector>

#include <sys/stat.h>

using kiln::app::GenerateInitImage;
using kiln::app::GeneratePanel;

class TestGeneratePanel : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    QString model_;

    // The longest gap between 5 ms timer ticks while `running` holds (at most 60 s), as test_main_window measures.
    static qint64 longestStall(const std::function<bool()>& running)
    {
        QElapsedTimer clock, sinceLast;
        clock.start();
        sinceLast.start();
        qint64 worst = 0;
        QTimer probe;
        probe.setInterval(5);
        QObject::connect(&probe, &QTimer::timeout, [&] { worst = std::max(worst, sinceLast.restart()); });
        probe.start();
        while (running() && clock.elapsed() < 60000) QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
        return worst;
    }

    void fillForm(GeneratePanel& panel, int steps)
    {
        panel.setModelPath(model_);
        panel.setTokenizerDir({});
        panel.setVaePath({});
        panel.setPrompt(QStringLiteral("a (bc:1.3), aa <lora:none:0.5>"), QStringLiteral("b"));
        panel.setSize(64, 64);
        panel.setSteps(steps);
        panel.setSeed(42);
    }

    // A pattern with detail everywhere, so a pixel that changed cannot hide.
    static QImage pattern(int w, int h)
    {
        QImage image(w, h, QImage::Format_RGB888);
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x)
                image.setPixelColor(x, y, QColor((x * 37) % 256, (y * 53) % 256, (x * y) % 256));
        return image;
    }

    static QImage leftHalfMask(int w, int h)
    {
        QImage mask(w, h, QImage::Format_Grayscale8);
        mask.fill(0);
        for (int y = 0; y < h; ++y) std::memset(mask.scanLine(y), 255, static_cast<std::size_t>(w / 2));
        return mask;
    }

    // Starts a load and waits for its answer (the read runs on the thread pool).
    static bool loadAndWait(GenerateInitImage* init, const std::function<void()>& start)
    {
        QSignalSpy done(init, &GenerateInitImage::imageLoaded);
        start();
        if (done.isEmpty() && !done.wait(20000)) return false;
        return done.first().first().toBool();
    }

    static bool load(GenerateInitImage* init, const QString& path)
    {
        return loadAndWait(init, [&] { init->loadFile(path); });
    }

    static QByteArray hugeBmpHeader()
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
    static QImage runToImage(GeneratePanel& panel)
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

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(dir_.isValid());
        QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, dir_.filePath(QStringLiteral("settings")));
        QCoreApplication::setOrganizationName(QStringLiteral("KilnTests"));
        auto tiny = kiln::sdtest::makeTinySd();
        QVERIFY(tiny.ok());
        model_ = dir_.filePath(QStringLiteral("tiny-sd"));
        auto written = kiln::sdtest::writeTinySdDiffusers(model_.toStdString(), *tiny);
        QVERIFY2(written.ok(), written.ok() ? "" : written.error().message().c_str());
    }

    void generatesSavesAndRestores()
    {
        kiln::qt::EngineThread engine;
        GeneratePanel panel(engine);
        panel.resize(1000, 700);
        panel.show();
        QVERIFY(QTest::qWaitForWindowExposed(&panel));
        fillForm(panel, 3);

        QPointer<kiln::qt::JobHandle> job = panel.generate();
        QVERIFY(job);
        int previews = 0;
        connect(job, &kiln::qt::JobHandle::previewArrived, this, [&] { ++previews; });
        const qint64 worst = longestStall([&] { return job && !job->isFinished(); });
        QVERIFY(job);
        QVERIFY2(job->state() == kiln::JobState::Succeeded, qPrintable(job->errorText()));
        QVERIFY2(worst < 50, qPrintable(QStringLiteral("the UI stalled for %1 ms").arg(worst)));
        QTRY_COMPARE_WITH_TIMEOUT(panel.gallery()->count(), 1, 5000);
        QVERIFY(previews >= 1);
        QVERIFY(!panel.previewLabel()->pixmap().isNull());

        const QString png = dir_.filePath(QStringLiteral("out.png"));
        QVERIFY(panel.saveImage(0, png));
        QImage saved(png);
        QCOMPARE(saved.size(), QSize(64, 64));
        const QString text = saved.text(QStringLiteral("parameters"));
        auto params = kiln::diffusion::parseParameters(text.toStdString());
        QVERIFY2(params.ok(), qPrintable(text));
        QCOMPARE(QString::fromStdString(params->prompt), QStringLiteral("a (bc:1.3), aa <lora:none:0.5>"));
        QCOMPARE(QString::fromStdString(params->negativePrompt), QStringLiteral("b"));
        QVERIFY(params->seed && *params->seed == 42u);
        QVERIFY(params->steps && *params->steps == 3);
        QVERIFY(params->width && *params->width == 64);
        QCOMPARE(QString::fromStdString(params->model), QStringLiteral("tiny-sd"));
        QCOMPARE(QString::fromStdString(params->sampler), QStringLiteral("Euler a"));
        QCOMPARE(QString::fromStdString(params->scheduleType), QStringLiteral("Automatic"));

        // The prompt editor colours weights and the lora tag.
        auto* editor = panel.findChild<QPlainTextEdit*>(QStringLiteral("generatePromptEdit"));
        QVERIFY(editor);
        QVERIFY(editor->document()->firstBlock().layout()->formats().size() >= 2);

        // What the drop handler calls: the form comes back from the file.
        panel.setPrompt(QStringLiteral("something else"));
        panel.setSeed(7);
        panel.setSteps(9);
        panel.setSize(128, 128);
        QVERIFY(panel.restoreFromPng(png));
        QCOMPARE(panel.prompt(), QStringLiteral("a (bc:1.3), aa <lora:none:0.5>"));
        QCOMPARE(panel.seed(), qint64(42));
        QCOMPARE(panel.steps(), 3);
        QCOMPARE(panel.config().width, 64);

        // A PNG without parameters says so and leaves the form alone.
        const QString plain = dir_.filePath(QStringLiteral("plain.png"));
        QVERIFY(QImage(8, 8, QImage::Format_RGB888).save(plain));
        QVERIFY(!panel.restoreFromPng(plain));
        QVERIFY(panel.statusText().contains(QStringLiteral("No generation parameters")));
        QCOMPARE(panel.seed(), qint64(42));

        // A FIFO named like a PNG (a reader would wait on it for ever) is refused before it is opened.
        const QString fifo = dir_.filePath(QStringLiteral("fifo.png"));
        QVERIFY(::mkfifo(QFile::encodeName(fifo).constData(), 0600) == 0);
        QVERIFY(!panel.restoreFromPng(fifo));
        QVERIFY2(panel.statusText().contains(QStringLiteral("not a regular file")), qPrintable(panel.statusText()));
        QCOMPARE(panel.seed(), qint64(42));
    }

    // 30 steps at 128x128 take long enough that a cancel after a few steps is clearly early; the UI keeps turning
    // meanwhile, preview updates included.
    void cancelStopsWithinAStep()
    {
        kiln::qt::EngineThread engine;
        GeneratePanel panel(engine);
        panel.show();
        fillForm(panel, 30);
        panel.setSize(128, 128);
        QElapsedTimer running;
        running.start();
        QPointer<kiln::qt::JobHandle> job = panel.generate();
        QVERIFY(job);
        const qint64 worst = longestStall([&] { return job && !job->isFinished() && job->progress() < 2.0 / 30; });
        QVERIFY(job && !job->isFinished());
        QVERIFY2(worst < 50, qPrintable(QStringLiteral("the UI stalled for %1 ms").arg(worst)));
        const double atCancel = job->progress();
        const qint64 perStep = running.elapsed() / std::max(1, static_cast<int>(atCancel * 30 + 0.5));
        QElapsedTimer clock;
        clock.start();
        panel.cancel();
        QTRY_VERIFY_WITH_TIMEOUT(job->isFinished(), 10000);
        const qint64 stopMs = clock.elapsed();
        qInfo("cancelled at %.0f%% of the steps (%lld ms a step); stopped %lld ms after the request", atCancel * 100,
              static_cast<long long>(perStep), static_cast<long long>(stopMs));
        QVERIFY2(stopMs < 2 * perStep + 1000, qPrintable(QStringLiteral("took %1 ms to stop").arg(stopMs)));
        QCOMPARE(job->state(), kiln::JobState::Cancelled);
        QVERIFY2(job->progress() < 0.5, qPrintable(QString::number(job->progress())));
        QCOMPARE(panel.gallery()->count(), 0);
        QVERIFY(panel.statusText().contains(QStringLiteral("Cancelled")));
    }

    void badModelSaysWhatIsWrong()
    {
        kiln::qt::EngineThread engine;
        GeneratePanel panel(engine);
        fillForm(panel, 3);
        panel.setModelPath(dir_.filePath(QStringLiteral("missing.safetensors")));
        QVERIFY(!panel.generate());
        QVERIFY(panel.statusText().contains(QStringLiteral("does not exist")));

        const QString junk = dir_.filePath(QStringLiteral("junk.safetensors"));
        {
            QFile f(junk);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write("not a checkpoint");
        }
        panel.setModelPath(junk);
        QPointer<kiln::qt::JobHandle> job = panel.generate();
        QVERIFY(job);
        QTRY_VERIFY_WITH_TIMEOUT(job->isFinished(), 10000);
        QCOMPARE(job->state(), kiln::JobState::Failed);
        QVERIFY2(panel.statusText().startsWith(QStringLiteral("Generation failed")), qPrintable(panel.statusText()));
    }

    // ComfyUI keeps its API graph in a `prompt` chunk; dropping its PNG fills the same form.
    void restoresComfyUiPng()
    {
        kiln::qt::EngineThread engine;
        GeneratePanel panel(engine);
        QImage image(8, 8, QImage::Format_RGB888);
        image.fill(Qt::gray);
        image.setText(QStringLiteral("prompt"), QStringLiteral(R"json({
  "3": {"inputs": {"seed": 156680208700286, "steps": 20, "cfg": 8, "sampler_name": "euler", "scheduler": "normal",
        "denoise": 1, "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0]},
        "class_type": "KSampler"},
  "4": {"inputs": {"ckpt_name": "v1-5-pruned-emaonly.safetensors"}, "class_type": "CheckpointLoaderSimple"},
  "5": {"inputs": {"width": 512, "height": 640, "batch_size": 1}, "class_type": "EmptyLatentImage"},
  "6": {"inputs": {"text": "glass bottle landscape", "clip": ["4", 1]}, "class_type": "CLIPTextEncode"},
  "7": {"inputs": {"text": "text, watermark", "clip": ["4", 1]}, "class_type": "CLIPTextEncode"}
})json"));
        const QString png = dir_.filePath(QStringLiteral("comfy.png"));
        QVERIFY(image.save(png));
        QVERIFY2(panel.restoreFromPng(png), qPrintable(panel.statusText()));
        QCOMPARE(panel.prompt(), QStringLiteral("glass bottle landscape"));
        QCOMPARE(QString::fromStdString(panel.config().negative), QStringLiteral("text, watermark"));
        QCOMPARE(panel.seed(), qint64(156680208700286));
        QCOMPARE(panel.steps(), 20);
        QCOMPARE(panel.config().width, 512);
        QCOMPARE(panel.config().height, 640);
    }

    // What the form hands the engine in each mode; what it refuses before queuing anything.
    void configCarriesInitImageAndMask()
    {
        kiln::qt::EngineThread engine;
        GeneratePanel panel(engine);
        panel.resize(1100, 750);
        panel.show();
        fillForm(panel, 3);
        auto* tabs = panel.findChild<QTabBar*>(QStringLiteral("generateModeTabs"));
        QVERIFY(tabs);
        QCOMPARE(tabs->count(), 3);
        QCOMPARE(panel.mode(), GeneratePanel::Mode::Txt2Img);
        QVERIFY(!panel.initImage()->isVisible());
        QCOMPARE(panel.config().strength, 0.75);  // A1111's default
        QCOMPARE(panel.config().maskBlur, 4);
        QVERIFY(panel.config().vaePath.empty());
        const QString noVae = dir_.filePath(QStringLiteral("no-such-vae.safetensors"));
        panel.setVaePath(noVae);
        QCOMPARE(QString::fromStdString(panel.config().vaePath), noVae);
        QVERIFY(!panel.generate());
        QVERIFY2(panel.statusText().contains(QStringLiteral("VAE")), qPrintable(panel.statusText()));
        panel.setVaePath({});

        tabs->setCurrentIndex(1);
        QCOMPARE(panel.mode(), GeneratePanel::Mode::Img2Img);
        QVERIFY(panel.initImage()->isVisible());
        QVERIFY(!panel.generate());  // no image yet
        QVERIFY2(panel.statusText().contains(QStringLiteral("image to start from")), qPrintable(panel.statusText()));

        const QImage init = pattern(100, 60);
        panel.initImage()->setImage(init, QStringLiteral("test"));
        panel.setStrength(0.4);
        auto c = panel.config();
        QCOMPARE(c.initWidth, 100);
        QCOMPARE(c.initHeight, 60);
        QCOMPARE(c.initRgb.size(), std::size_t(100 * 60 * 3));
        const std::size_t at = (std::size_t(17) * 100 + 42) * 3;  // pixel (42, 17)
        QCOMPARE(int(c.initRgb[at]), (42 * 37) % 256);
        QCOMPARE(int(c.initRgb[at + 1]), (17 * 53) % 256);
        QCOMPARE(int(c.initRgb[at + 2]), (42 * 17) % 256);
        QCOMPARE(c.strength, 0.4);
        QVERIFY(c.mask.empty());  // img2img has no mask

        // Size from image: 100x60 rounds to 104x64 (multiples of 8).
        panel.initImage()->findChild<QPushButton*>(QStringLiteral("initSizeButton"))->click();
        QCOMPARE(panel.config().width, 104);
        QCOMPARE(panel.config().height, 64);
        QCOMPARE(GenerateInitImage::generationSize(QSize(4000, 3000)), QSize(2048, 1536));

        panel.setMode(GeneratePanel::Mode::Inpaint);
        QCOMPARE(tabs->currentIndex(), 2);
        QVERIFY(!panel.generate());  // nothing painted yet
        QVERIFY2(panel.statusText().contains(QStringLiteral("Paint over")), qPrintable(panel.statusText()));
        panel.initImage()->maskEditor()->canvas()->setMask(leftHalfMask(100, 60));
        panel.setMaskBlur(9);
        c = panel.config();
        QCOMPARE(c.mask.size(), std::size_t(100 * 60));
        QCOMPARE(int(c.mask[10 * 100 + 49]), 255);
        QCOMPARE(int(c.mask[10 * 100 + 50]), 0);
        QCOMPARE(c.maskBlur, 9);
        QCOMPARE(c.initRgb.size(), std::size_t(100 * 60 * 3));

        panel.setMode(GeneratePanel::Mode::Txt2Img);
        c = panel.config();
        QVERIFY(c.initRgb.empty());
        QVERIFY(c.mask.empty());
        QCOMPARE(c.initWidth, 0);
    }

    // Files that do not read, or are too large, leave the current image alone and say why.
    void initImageRefusesBadFiles()
    {
        kiln::qt::EngineThread engine;
        GeneratePanel panel(engine);
        panel.setMode(GeneratePanel::Mode::Img2Img);
        GenerateInitImage* init = panel.initImage();
        const QString good = dir_.filePath(QStringLiteral("init.png"));
        QVERIFY(pattern(40, 24).save(good));
        QVERIFY2(load(init, good), qPrintable(panel.statusText()));
        QCOMPARE(init->image().size(), QSize(40, 24));

        const QString junk = dir_.filePath(QStringLiteral("junk.png"));
        {
            QFile f(junk);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write("\x89PNG not really");
        }
        QVERIFY(!load(init, junk));
        QVERIFY2(panel.statusText().contains(QStringLiteral("Could not read")), qPrintable(panel.statusText()));
        QCOMPARE(init->image().size(), QSize(40, 24));

        // A BMP header claiming 12000 x 9000 pixels: refused from the header, before any decoding.
        const QString huge = dir_.filePath(QStringLiteral("huge.bmp"));
        {
            QFile f(huge);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(hugeBmpHeader());
        }
        QVERIFY(!load(init, huge));
        QVERIFY2(panel.statusText().contains(QStringLiteral("megapixels")), qPrintable(panel.statusText()));
        QCOMPARE(init->image().size(), QSize(40, 24));

        // A dropped file and the clipboard are the other ways in.
        const QString other = dir_.filePath(QStringLiteral("other.png"));
        QVERIFY(pattern(30, 20).save(other));
        QMimeData files;
        files.setUrls({QUrl::fromLocalFile(other)});
        QDragEnterEvent enter(QPoint(5, 5), Qt::CopyAction, &files, Qt::LeftButton, Qt::NoModifier);
        QApplication::sendEvent(init, &enter);
        QVERIFY(enter.isAccepted());
        QVERIFY(loadAndWait(init, [&] {
            QDropEvent drop(QPointF(5, 5), Qt::CopyAction, &files, Qt::LeftButton, Qt::NoModifier);
            QApplication::sendEvent(init, &drop);
        }));
        QCOMPARE(init->image().size(), QSize(30, 20));
        QApplication::clipboard()->setImage(pattern(12, 34));
        QVERIFY(loadAndWait(init, [&] { init->paste(); }));
        QCOMPARE(init->image().size(), QSize(12, 34));
        QApplication::clipboard()->setText(QStringLiteral("no image here"));
        QVERIFY(!init->paste());
        QVERIFY2(panel.statusText().contains(QStringLiteral("no image")), qPrintable(panel.statusText()));
        QCOMPARE(init->image().size(), QSize(12, 34));
    }

    // The read happens on the thread pool: loadFile returns at once with "loading…" in the info line and the old
    // image still shown; the UI thread keeps turning. A FIFO (which a reader would wait on forever) is refused.
    void initImageLoadsOffTheUiThread()
    {
        kiln::qt::EngineThread engine;
        GeneratePanel panel(engine);
        fillForm(panel, 2);
        panel.setMode(GeneratePanel::Mode::Img2Img);
        GenerateInitImage* init = panel.initImage();
        init->setImage(pattern(16, 16), QStringLiteral("first"));
        const QString big = dir_.filePath(QStringLiteral("big.png"));
        QVERIFY(pattern(1500, 1000).save(big));

        QSignalSpy loaded(init, &GenerateInitImage::imageLoaded);
        init->loadFile(big);
        QVERIFY(init->isLoading());
        QCOMPARE(loaded.count(), 0);
        QCOMPARE(init->image().size(), QSize(16, 16));  // not decoded here
        QVERIFY2(init->infoText().contains(QStringLiteral("loading")), qPrintable(init->infoText()));
        QVERIFY(!panel.generate());  // nothing runs on a half-loaded form
        QVERIFY2(panel.statusText().contains(QStringLiteral("still loading")), qPrintable(panel.statusText()));
        QVERIFY(loaded.wait(20000));
        QVERIFY(loaded.first().first().toBool());
        QVERIFY(!init->isLoading());
        QCOMPARE(init->image().size(), QSize(1500, 1000));
        QVERIFY2(!init->infoText().contains(QStringLiteral("loading")), qPrintable(init->infoText()));

        // A FIFO with no writer: opening it to read would block for ever. Refused before anything opens it.
        const QString fifo = dir_.filePath(QStringLiteral("pipe.png"));
        QVERIFY(::mkfifo(QFile::encodeName(fifo).constData(), 0600) == 0);
        QElapsedTimer clock;
        clock.start();
        QVERIFY(!load(init, fifo));
        QVERIFY(clock.elapsed() < 10000);
        QVERIFY2(panel.statusText().contains(QStringLiteral("not a regular file")), qPrintable(panel.statusText()));
        QCOMPARE(init->image().size(), QSize(1500, 1000));
        QSignalSpy maskDone(init, &GenerateInitImage::maskLoaded);
        init->loadMask(fifo);
        QVERIFY(maskDone.count() == 1 || maskDone.wait(10000));
        QVERIFY(!maskDone.first().first().toBool());
        QVERIFY2(panel.statusText().contains(QStringLiteral("not a regular file")), qPrintable(panel.statusText()));

        // A mask asked for while its image still loads waits for it, and is scaled to it.
        const QString maskFile = dir_.filePath(QStringLiteral("half.png"));
        QVERIFY(leftHalfMask(20, 10).save(maskFile));
        QSignalSpy allDone(init, &GenerateInitImage::loadingFinished);
        QSignalSpy maskLoaded(init, &GenerateInitImage::maskLoaded);
        init->loadFile(big);
        init->loadMask(maskFile);
        QVERIFY(init->isLoading());
        QVERIFY(allDone.wait(20000));
        QCOMPARE(maskLoaded.count(), 1);
        QVERIFY2(maskLoaded.first().first().toBool(), qPrintable(panel.statusText()));
        QCOMPARE(init->mask().size(), QSize(1500, 1000));
        QCOMPARE(int(init->mask().constScanLine(500)[700]), 255);
        QCOMPARE(int(init->mask().constScanLine(500)[800]), 0);
    }

    // Dropped and pasted image data goes through the same checks as a file; what fails keeps the old image.
    void dropAndPasteCheckImageData()
    {
        kiln::qt::EngineThread engine;
        GeneratePanel panel(engine);
        panel.setMode(GeneratePanel::Mode::Img2Img);
        GenerateInitImage* init = panel.initImage();
        init->setImage(pattern(40, 24), QStringLiteral("kept"));
        // As a drag does it: the drop goes to the widget that accepted the drag's entry.
        auto drop = [init](QMimeData* data) {
            QDragEnterEvent enter(QPoint(5, 5), Qt::CopyAction, data, Qt::LeftButton, Qt::NoModifier);
            QApplication::sendEvent(init, &enter);
            QVERIFY(enter.isAccepted());
            QDropEvent e(QPointF(5, 5), Qt::CopyAction, data, Qt::LeftButton, Qt::NoModifier);
            QApplication::sendEvent(init, &e);
        };

        // Image data that is no image: the current image stays, and the panel says why.
        QMimeData notImage;
        notImage.setImageData(QVariant(QStringLiteral("not an image")));
        drop(&notImage);
        QVERIFY2(panel.statusText().contains(QStringLiteral("not an image")), qPrintable(panel.statusText()));
        QCOMPARE(init->image().size(), QSize(40, 24));
        QVERIFY(init->hasImage());

        // PNG bytes that do not decode (as another program would offer them).
        QMimeData junk;
        junk.setData(QStringLiteral("image/png"), QByteArray("\x89PNG not really"));
        QVERIFY(!loadAndWait(init, [&] { drop(&junk); }));
        QVERIFY2(panel.statusText().contains(QStringLiteral("Could not read")), qPrintable(panel.statusText()));
        QCOMPARE(init->image().size(), QSize(40, 24));

        // Too large, as bytes (refused from the header) and as an image object; dropped and pasted.
        QMimeData hugeBytes;
        hugeBytes.setData(QStringLiteral("image/bmp"), hugeBmpHeader());
        QVERIFY(!loadAndWait(init, [&] { drop(&hugeBytes); }));
        QVERIFY2(panel.statusText().contains(QStringLiteral("megapixels")), qPrintable(panel.statusText()));
        QCOMPARE(init->image().size(), QSize(40, 24));
        const QImage hugeImage(12000, 9000, QImage::Format_Mono);  // 108 MP in 13 MB
        QVERIFY(!hugeImage.isNull());
        QMimeData hugeObject;
        hugeObject.setImageData(hugeImage);
        panel.setStrength(0.5);  // any other message
        QVERIFY(!loadAndWait(init, [&] { drop(&hugeObject); }));
        QVERIFY2(panel.statusText().contains(QStringLiteral("megapixels")), qPrintable(panel.statusText()));
        QCOMPARE(init->image().size(), QSize(40, 24));
        QApplication::clipboard()->setImage(hugeImage);
        QVERIFY(!loadAndWait(init, [&] { init->paste(); }));
        QVERIFY2(panel.statusText().contains(QStringLiteral("megapixels")), qPrintable(panel.statusText()));
        QCOMPARE(init->image().size(), QSize(40, 24));

        // Good PNG bytes are decoded and taken.
        QByteArray png;
        {
            QBuffer buffer(&png);
            QVERIFY(buffer.open(QIODevice::WriteOnly));
            QVERIFY(pattern(22, 18).save(&buffer, "PNG"));
        }
        QMimeData good;
        good.setData(QStringLiteral("image/png"), png);
        QVERIFY(loadAndWait(init, [&] { drop(&good); }));
        QCOMPARE(init->image().size(), QSize(22, 18));
    }

    // A1111 flattens an init image with alpha onto white; the colour under transparent pixels never reaches the
    // model. A mask file with a non-flat alpha uses the alpha (opaque = repaint), as kiln-cli does.
    void transparencyFlattensOntoWhiteAndAlphaMasks()
    {
        kiln::qt::EngineThread engine;
        GeneratePanel panel(engine);
        fillForm(panel, 2);
        panel.setMode(GeneratePanel::Mode::Img2Img);
        GenerateInitImage* init = panel.initImage();
        QImage rgba(4, 2, QImage::Format_ARGB32);
        rgba.fill(qRgba(10, 200, 30, 255));
        rgba.setPixel(0, 0, qRgba(255, 0, 0, 0));    // red, fully transparent
        rgba.setPixel(1, 0, qRgba(0, 0, 0, 0));      // black, fully transparent
        rgba.setPixel(2, 0, qRgba(0, 0, 255, 128));  // blue, half
        auto check = [&](const char* how) {
            const auto c = panel.config();
            QVERIFY2(c.initRgb.size() == 4 * 2 * 3, how);
            auto px = [&](int x, int y) {
                const std::size_t at = (std::size_t(y) * 4 + x) * 3;
                return QColor(c.initRgb[at], c.initRgb[at + 1], c.initRgb[at + 2]).name();
            };
            QVERIFY2(px(0, 0) == QStringLiteral("#ffffff"), qPrintable(QString::fromLatin1(how) + px(0, 0)));
            QVERIFY2(px(1, 0) == QStringLiteral("#ffffff"), qPrintable(QString::fromLatin1(how) + px(1, 0)));
            QVERIFY2(px(2, 0) == QColor(127, 127, 255).name(), qPrintable(QString::fromLatin1(how) + px(2, 0)));
            QVERIFY2(px(3, 1) == QColor(10, 200, 30).name(), qPrintable(QString::fromLatin1(how) + px(3, 1)));
        };
        init->setImage(rgba, QStringLiteral("set"));
        check("setImage: ");
        const QString file = dir_.filePath(QStringLiteral("alpha.png"));
        QVERIFY(rgba.save(file));
        init->setImage(pattern(8, 8), QStringLiteral("other"));
        QVERIFY2(load(init, file), qPrintable(panel.statusText()));
        check("loadFile: ");

        // Black everywhere, opaque on the left half: grey levels would be an empty mask; the alpha is the mask.
        QImage alphaMask(4, 2, QImage::Format_ARGB32);
        alphaMask.fill(qRgba(0, 0, 0, 0));
        for (int y = 0; y < 2; ++y)
            for (int x = 0; x < 2; ++x) alphaMask.setPixel(x, y, qRgba(0, 0, 0, 255));
        const QString maskFile = dir_.filePath(QStringLiteral("alpha-mask.png"));
        QVERIFY(alphaMask.save(maskFile));
        panel.setMode(GeneratePanel::Mode::Inpaint);
        QSignalSpy maskDone(init, &GenerateInitImage::maskLoaded);
        init->loadMask(maskFile);
        QVERIFY(maskDone.wait(20000));
        QVERIFY2(maskDone.first().first().toBool(), qPrintable(panel.statusText()));
        auto c = panel.config();
        QCOMPARE(c.mask, (std::vector<std::uint8_t>{255, 255, 0, 0, 255, 255, 0, 0}));

        // Flat alpha (an opaque black-and-white mask saved as RGBA): the grey levels are the mask.
        QImage flat(4, 2, QImage::Format_ARGB32);
        flat.fill(qRgba(0, 0, 0, 255));
        flat.setPixel(3, 0, qRgba(255, 255, 255, 255));
        QVERIFY(flat.save(maskFile));
        maskDone.clear();
        init->loadMask(maskFile);
        QVERIFY(maskDone.wait(20000));
        QVERIFY(maskDone.first().first().toBool());
        c = panel.config();
        QCOMPARE(c.mask, (std::vector<std::uint8_t>{0, 0, 0, 255, 0, 0, 0, 0}));
    }

    // The image callback runs on the engine thread and may land while, or after, the panel is destroyed: it posts
    // to the application and checks the panel there. Many one-step images, the panel deleted mid-run.
    void panelDestroyedWhileImagesArrive()
    {
        kiln::qt::EngineThread engine;
        for (int round = 0; round < 3; ++round) {
            auto* panel = new GeneratePanel(engine);
            fillForm(*panel, 1);
            panel->findChild<QSpinBox*>(QStringLiteral("generateBatchCountSpin"))->setValue(40);
            QPointer<kiln::qt::JobHandle> job = panel->generate();
            QVERIFY(job);
            int added = 0;
            connect(panel, &GeneratePanel::imageAdded, this, [&added] { ++added; });
            QTRY_VERIFY_WITH_TIMEOUT(added >= 1 + round, 60000);
            delete panel;  // cancels and waits for the job; images it made on the way are posted to qApp
            QVERIFY(!job);
            QTest::qWait(20);  // the posted calls run, and find no panel
        }
    }

    void etaFromStepReports()
    {
        kiln::app::StepEta eta;
        // The exact reports of engine/diffusion/generate_job.cpp: "step 0" once the model is in, then "step i/N".
        QCOMPARE(eta.update(QStringLiteral("loading the model"), 0), QStringLiteral("loading the model"));
        QCOMPARE(eta.update(QStringLiteral("step 0"), 5000), QStringLiteral("step 0"));
        // 5 steps in 6 s: 1.2 s a step, 15 left.
        QCOMPARE(eta.update(QStringLiteral("step 5/20"), 11000), QStringLiteral("step 5/20 · 1.2 s/step · ETA 0:18"));
        QCOMPARE(eta.update(QStringLiteral("step 19/20"), 5000 + 19 * 1200),
                 QStringLiteral("step 19/20 · 1.2 s/step · ETA 0:01"));
        QCOMPARE(eta.update(QStringLiteral("done"), 5000 + 20 * 1200), QStringLiteral("done"));
        QCOMPARE(kiln::app::StepEta::formatDuration(3723), QStringLiteral("1:02:03"));
        QCOMPARE(kiln::app::StepEta::formatDuration(605), QStringLiteral("10:05"));
        eta.reset();
        QCOMPARE(eta.update(QStringLiteral("step 3/10"), 0), QStringLiteral("step 3/10"));
        QCOMPARE(eta.update(QStringLiteral("step 4/10"), 250), QStringLiteral("step 4/10 · 0.25 s/step · ETA 0:02"));

        // Batch count 3, 20 steps each, 1 s a step, and 10 s between batches (decoding, the next noise) that
        // are not steps. The ETA counts the batches still to come.
        eta.reset();
        QCOMPARE(eta.update(QStringLiteral("step 0"), 0), QStringLiteral("step 0"));
        QCOMPARE(eta.update(QStringLiteral("batch 1/3 · step 4/20"), 4000),
                 QStringLiteral("batch 1/3 · step 4/20 · 1.0 s/step · ETA 0:56"));  // 16 + 2 x 20
        QCOMPARE(eta.update(QStringLiteral("batch 1/3 · step 20/20"), 20000),
                 QStringLiteral("batch 1/3 · step 20/20 · 1.0 s/step · ETA 0:40"));
        // Batch 2 begins after the 10 s pause: the timer starts again, the pause is not counted as steps.
        QCOMPARE(eta.update(QStringLiteral("batch 2/3 · step 1/20"), 31000),
                 QStringLiteral("batch 2/3 · step 1/20 · 1.0 s/step · ETA 0:39"));
        QCOMPARE(eta.update(QStringLiteral("batch 2/3 · step 5/20"), 35000),
                 QStringLiteral("batch 2/3 · step 5/20 · 1.0 s/step · ETA 0:35"));
        // Coalesced reports can skip the rest of batch 2 and the start of batch 3, so the step number need not go
        // down: the prefix change alone restarts the timer (else 37 s for 7 steps would read 5.3 s a step).
        QCOMPARE(eta.update(QStringLiteral("batch 3/3 · step 8/20"), 68000),
                 QStringLiteral("batch 3/3 · step 8/20 · 1.0 s/step · ETA 0:12"));
        QCOMPARE(eta.update(QStringLiteral("batch 3/3 · step 12/20"), 72000),
                 QStringLiteral("batch 3/3 · step 12/20 · 1.0 s/step · ETA 0:08"));

        // A step number that goes down in the same batch restarts the timer too.
        eta.reset();
        QCOMPARE(eta.update(QStringLiteral("step 0"), 0), QStringLiteral("step 0"));
        QCOMPARE(eta.update(QStringLiteral("step 10/10"), 10000), QStringLiteral("step 10/10 · 1.0 s/step · ETA 0:00"));
        QCOMPARE(eta.update(QStringLiteral("step 1/10"), 60000), QStringLiteral("step 1/10 · 1.0 s/step · ETA 0:09"));
        QCOMPARE(eta.update(QStringLiteral("step 3/10"), 61000), QStringLiteral("step 3/10 · 0.50 s/step · ETA 0:04"));

        // On a real job: the progress bar shows the rate and time left while it samples.
        kiln::qt::EngineThread engine;
        GeneratePanel panel(engine);
        panel.show();
        fillForm(panel, 24);
        panel.setSize(128, 128);
        QPointer<kiln::qt::JobHandle> job = panel.generate();
        QVERIFY(job);
        QStringList seen;
        connect(job, &kiln::qt::JobHandle::progressChanged, this, [&] { seen << panel.progressText(); });
        QTRY_VERIFY_WITH_TIMEOUT(job->isFinished(), 60000);
        QVERIFY2(job->state() == kiln::JobState::Succeeded, qPrintable(job->errorText()));
        const QStringList withEta = seen.filter(QStringLiteral(" s/step · ETA "));
        QVERIFY2(!withEta.isEmpty(), qPrintable(seen.join(QLatin1Char('|'))));
        static const QRegularExpression shape(QStringLiteral("^step \\d+/24 · [0-9.]+ s/step · ETA \\d+:\\d\\d$"));
        QVERIFY2(withEta.first().contains(shape),
                 qPrintable(withEta.first()));
        QVERIFY(panel.progressText().isEmpty());  // hidden once finished
    }

    // A gallery image becomes the init image: the mode switches and its parameters come back.
    void sendToImg2imgFromGallery()
    {
        kiln::qt::EngineThread engine;
        GeneratePanel panel(engine);
        panel.show();
        fillForm(panel, 2);
        const QImage made = runToImage(panel);
        QVERIFY(!made.isNull());
        // The finished image stays in the preview, whatever step preview came late.
        QCOMPARE(panel.previewLabel()->pixmap().toImage().convertToFormat(QImage::Format_RGB32),
                 made.scaled(320, 320, Qt::KeepAspectRatio, Qt::SmoothTransformation)
                     .convertToFormat(QImage::Format_RGB32));
        panel.setSeed(7);
        panel.setSteps(9);
        panel.sendToInit(0, GeneratePanel::Mode::Img2Img);
        QCOMPARE(panel.mode(), GeneratePanel::Mode::Img2Img);
        QVERIFY(panel.initImage()->isVisible());
        QCOMPARE(panel.initImage()->image().convertToFormat(QImage::Format_RGB888), made);
        QCOMPARE(panel.seed(), qint64(42));
        QCOMPARE(panel.steps(), 2);
        QCOMPARE(panel.config().initWidth, 64);
        QVERIFY(!panel.initImage()->maskEditor()->canvas()->isEditable());

        panel.sendToInit(0, GeneratePanel::Mode::Inpaint);
        QCOMPARE(panel.mode(), GeneratePanel::Mode::Inpaint);
        QVERIFY(panel.initImage()->maskEditor()->canvas()->isEditable());
        QVERIFY(panel.initImage()->maskIsEmpty());
    }

    // End to end on the tiny model (needs the engine's img2img): the requested size comes back, and inpainting
    // keeps every pixel outside the mask.
    void img2imgAndInpaintOnTheTinyModel()
    {
        kiln::qt::EngineThread engine;
        GeneratePanel panel(engine);
        panel.resize(1100, 750);
        panel.show();
        fillForm(panel, 4);
        panel.setMode(GeneratePanel::Mode::Img2Img);
        panel.initImage()->setImage(pattern(80, 48), QStringLiteral("pattern"));
        panel.setSize(64, 72);
        panel.setStrength(0.6);
        const QImage out = runToImage(panel);
        QVERIFY(!out.isNull());
        QCOMPARE(out.size(), QSize(64, 72));
        const QString first = panel.gallery()->item(0)->toolTip();
        auto params = kiln::diffusion::parseParameters(first.toStdString());
        QVERIFY2(params.ok() && params->find("Denoising strength"), qPrintable(first));
        QCOMPARE(QString::fromStdString(*params->find("Denoising strength")).toDouble(), 0.6);

        // Inpaint the left half of a 64x64 image at its own size, without blur: the right half comes back as it was.
        const QImage init = pattern(64, 64);
        panel.setMode(GeneratePanel::Mode::Inpaint);
        panel.initImage()->setImage(init, QStringLiteral("pattern"));
        panel.initImage()->maskEditor()->canvas()->setMask(leftHalfMask(64, 64));
        panel.setSize(64, 64);
        panel.setMaskBlur(0);
        panel.setStrength(1.0);
        const QImage painted = runToImage(panel);
        QVERIFY(!painted.isNull());
        QCOMPARE(painted.size(), QSize(64, 64));
        int changedLeft = 0;
        for (int y = 0; y < 64; ++y)
            for (int x = 0; x < 64; ++x) {
                if (x >= 32)
                    QVERIFY2(painted.pixel(x, y) == init.pixel(x, y),
                             qPrintable(QStringLiteral("(%1, %2) changed outside the mask: %3 -> %4")
                                            .arg(x)
                                            .arg(y)
                                            .arg(init.pixelColor(x, y).name(), painted.pixelColor(x, y).name())));
                else changedLeft += painted.pixel(x, y) != init.pixel(x, y);
            }
        QVERIFY2(changedLeft > 64 * 32 / 2, qPrintable(QString::number(changedLeft)));
        const QString infotext = panel.gallery()->item(1)->toolTip();
        QVERIFY2(infotext.contains(QStringLiteral("Mask blur: 0")), qPrintable(infotext));
    }

    void batchCountRunsBatchesWithCountingSeeds()
    {
        kiln::qt::EngineThread engine;
        GeneratePanel panel(engine);
        fillForm(panel, 1);
        auto* count = panel.findChild<QSpinBox*>(QStringLiteral("generateBatchCountSpin"));
        QVERIFY(count);
        count->setValue(3);
        QCOMPARE(panel.config().batchCount, 3);
        QPointer<kiln::qt::JobHandle> job = panel.generate();
        QVERIFY(job);
        QTRY_VERIFY_WITH_TIMEOUT(job && job->isFinished(), 60000);
        QVERIFY2(job->state() == kiln::JobState::Succeeded, qPrintable(job->errorText()));
        QTRY_COMPARE_WITH_TIMEOUT(panel.gallery()->count(), 3, 5000);
        QStringList seeds;
        for (int row = 0; row < 3; ++row) {
            const QString text = panel.gallery()->item(row)->data(Qt::UserRole + 1).toString();
            const int at = text.indexOf(QStringLiteral("Seed: "));
            QVERIFY2(at >= 0, qPrintable(text));
            seeds << text.mid(at + 6).section(QLatin1Char(','), 0, 0);
        }
        seeds.sort();
        QCOMPARE(seeds, (QStringList{QStringLiteral("42"), QStringLiteral("43"), QStringLiteral("44")}));
    }

    void cleanupTestCase() { kiln::diffusion::clearGenerateModelCache(); }
};

QTEST_MAIN(TestGeneratePanel)
#include "test_generate_panel.moc"
