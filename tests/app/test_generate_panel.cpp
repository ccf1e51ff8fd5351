// The Generate panel, offscreen, on a tiny seeded SD model in the diffusers layout: it generates into the
// gallery without stalling the UI, saves PNGs whose `parameters` text reads back, restores the form from a
// dropped PNG, cancels within a step and says what is wrong with a bad model.
#include "../engine/sd_test_models.h"
#include "kiln/generate.h"
#include "panels/generate_panel.h"
#include "qt/engine_thread.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QImage>
#include <QLabel>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QTextBlock>
#include <QTextLayout>
#include <QSettings>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include <functional>

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
        panel.setPrompt(QStringLiteral("a (bc:1.3), aa <lora:none:0.5>"), QStringLiteral("b"));
        panel.setSize(64, 64);
        panel.setSteps(steps);
        panel.setSeed(42);
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

    void cleanupTestCase() { kiln::diffusion::clearGenerateModelCache(); }
};

QTEST_MAIN(TestGeneratePanel)
#include "test_generate_panel.moc"
