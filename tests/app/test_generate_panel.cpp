// The Generate panel, offscreen, on a tiny seeded SD model in the diffusers layout: it generates into the
// gallery without stalling the UI, saves PNGs whose `parameters` text reads back, restores the form from a
// dropped PNG, cancels within a step and says what is wrong with a bad model, batch count, and the ETA of a
// running job. img2img and inpainting: test_generate_panel_img2img.cpp.
#include "generate_panel_test_support.h"
#include "panels/generate_progress.h"

#include <QApplication>
#include <QLabel>
#include <QPlainTextEdit>
#include <QSpinBox>
#include <QTextBlock>
#include <QTextLayout>

#include <sys/stat.h>

using namespace kiln::generatetest;

class TestGeneratePanel : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    QString model_;

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(dir_.isValid());
        model_ = setUpTinyModel(dir_);
        QVERIFY(!model_.isEmpty());
    }

    void generatesSavesAndRestores()
    {
        kiln::qt::EngineThread engine;
        GeneratePanel panel(engine);
        panel.resize(1000, 700);
        panel.show();
        QVERIFY(QTest::qWaitForWindowExposed(&panel));
        fillForm(panel, model_, 3);

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
        fillForm(panel, model_, 30);
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
        fillForm(panel, model_, 3);
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

    // The image callback runs on the engine thread and may land while, or after, the panel is destroyed: it posts
    // to the application and checks the panel there. Many one-step images, the panel deleted mid-run.
    void panelDestroyedWhileImagesArrive()
    {
        kiln::qt::EngineThread engine;
        for (int round = 0; round < 3; ++round) {
            auto* panel = new GeneratePanel(engine);
            fillForm(*panel, model_, 1);
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
        fillForm(panel, model_, 24);
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

    void batchCountRunsBatchesWithCountingSeeds()
    {
        kiln::qt::EngineThread engine;
        GeneratePanel panel(engine);
        fillForm(panel, model_, 1);
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
