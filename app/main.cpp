// kiln: the studio.
#include "kiln/system_info.h"
#include "main_window.h"
#include "system_facts.h"
#include "panels/designer_panel.h"
#include "panels/generate_init_image.h"
#include "panels/generate_panel.h"
#include "panels/models_panel.h"
#include "panels/run_panel.h"
#include "panels/train_panel.h"
#include "panels/weights_panel.h"
#include "widgets/theme.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QSettings>
#include <QSpinBox>
#include <QTimer>
#include <functional>
#include <memory>

int main(int argc, char** argv)
{
    kiln::ensurePassiveOpenMP(argv);
    kiln::keepFreedMemoryForReuse();
    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("Kiln"));
    QApplication::setApplicationName(QStringLiteral("Kiln"));
    QApplication::setApplicationVersion(QStringLiteral(KILN_VERSION));
    QApplication::setDesktopFileName(QStringLiteral("org.kiln.Kiln"));

    QCommandLineParser cli;
    cli.setApplicationDescription(QStringLiteral("Kiln: design, train and run neural networks."));
    cli.addHelpOption();
    cli.addVersionOption();
    cli.addPositionalArgument(QStringLiteral("file"),
                              QStringLiteral("A graph (.kgraph) or a weights file (.safetensors, .ckpt, .pt) to open."));
    QCommandLineOption sample(QStringLiteral("sample"), QStringLiteral("Open a shipped sample graph (e.g. fashion_convnet)."),
                              QStringLiteral("name"));
    cli.addOption(sample);
    QCommandLineOption train(QStringLiteral("train"), QStringLiteral("Start training the Designer's graph at launch."));
    cli.addOption(train);
    QCommandLineOption run(QStringLiteral("run"),
                           QStringLiteral("Run the Designer's graph over its dataset at launch on DEVICE (cpu, vulkan, or several: vulkan,cpu)."),
                           QStringLiteral("device"));
    QCommandLineOption weights(QStringLiteral("weights"), QStringLiteral("Checkpoint (.safetensors) for --run."),
                               QStringLiteral("file"));
    QCommandLineOption limit(QStringLiteral("limit"), QStringLiteral("Items for --run (default all)."), QStringLiteral("n"));
    cli.addOption(run);
    QCommandLineOption generate(QStringLiteral("generate"),
                                QStringLiteral("Open Generate and generate PROMPT at launch (with --model)."),
                                QStringLiteral("prompt"));
    QCommandLineOption model(QStringLiteral("model"), QStringLiteral("Stable Diffusion model for --generate."),
                             QStringLiteral("path"));
    QCommandLineOption steps(QStringLiteral("steps"), QStringLiteral("Sampling steps for --generate."), QStringLiteral("n"));
    QCommandLineOption size(QStringLiteral("size"), QStringLiteral("WIDTHxHEIGHT for --generate."), QStringLiteral("wxh"));
    QCommandLineOption generateMode(QStringLiteral("generate-mode"),
                                    QStringLiteral("Open Generate in MODE: txt2img, img2img or inpaint."),
                                    QStringLiteral("mode"));
    QCommandLineOption initImage(QStringLiteral("init-image"),
                                 QStringLiteral("The image img2img and inpaint start from."), QStringLiteral("file"));
    QCommandLineOption mask(QStringLiteral("mask"),
                            QStringLiteral("Inpainting mask: white repaints, black keeps (in an image with "
                                           "transparency: opaque repaints, transparent keeps)."),
                            QStringLiteral("file"));
    QCommandLineOption strength(QStringLiteral("strength"), QStringLiteral("Denoising strength, 0 to 1."),
                                QStringLiteral("x"));
    cli.addOption(generate);
    cli.addOption(generateMode);
    cli.addOption(initImage);
    cli.addOption(mask);
    cli.addOption(strength);
    cli.addOption(model);
    cli.addOption(steps);
    cli.addOption(size);
    cli.addOption(weights);
    cli.addOption(limit);
    QCommandLineOption models(QStringLiteral("models"),
                              QStringLiteral("Open Models at launch: scan the model folders, hash the files not hashed yet "
                                             "and select the model called NAME (or 'all')."),
                              QStringLiteral("name"));
    cli.addOption(models);
    QCommandLineOption quitAfter(QStringLiteral("quit-after"), QStringLiteral("Quit after MS milliseconds (smoke tests)."),
                                 QStringLiteral("ms"));
    QCommandLineOption theme(QStringLiteral("theme"), QStringLiteral("system, light or dark (saved)."), QStringLiteral("theme"));
    cli.addOption(quitAfter);
    cli.addOption(theme);
    cli.process(app);

    if (cli.isSet(theme)) QSettings().setValue(QStringLiteral("ui/theme"), cli.value(theme));
    kiln::widgets::applyTheme(app, kiln::widgets::themeFromId(QSettings().value(QStringLiteral("ui/theme")).toString()));

    kiln::app::MainWindow window;
    window.loadPlugins();
    window.show();
    if (!cli.positionalArguments().isEmpty()) {
        const QString file = cli.positionalArguments().first();
        if (file.endsWith(QStringLiteral(".kgraph"))) window.designerPanel().open(file);
        else {
            window.weightsPanel().open(file);
            window.showPanel(&window.weightsPanel());
        }
    }
    if (cli.isSet(sample) && !window.designerPanel().openSample(cli.value(sample)))
        qWarning("no sample called %s; there are: %s", qPrintable(cli.value(sample)),
                 qPrintable(kiln::app::DesignerPanel::sampleNames().join(QStringLiteral(", "))));
    if (cli.isSet(train)) {
        window.showPanel(&window.trainPanel());
        window.trainPanel().start();
    }
    if (cli.isSet(run)) {
        window.showPanel(&window.runPanel());
        auto& panel = window.runPanel();
        if (cli.isSet(weights)) panel.setWeights(cli.value(weights));
        if (cli.isSet(limit)) panel.findChild<QSpinBox*>(QStringLiteral("runLimitSpin"))->setValue(cli.value(limit).toInt());
        // The device list comes from the start-up probe, a job of its own: start once it is in.
        // Several devices ("vulkan,cpu") run one after another, a row each.
        auto devices = std::make_shared<QStringList>(cli.value(run).split(QLatin1Char(',')));
        auto next = std::make_shared<std::function<void()>>();
        *next = [&panel, devices] {
            if (devices->isEmpty()) return;
            const QString device = devices->takeFirst();
            if (!panel.selectDevice(device)) qWarning("no device matching %s; running on the CPU", qPrintable(device));
            panel.start();
        };
        QObject::connect(&panel, &kiln::app::RunPanel::finishedRun, &panel, [next] { (*next)(); });
        if (window.systemFacts().ready()) (*next)();
        else QObject::connect(&window.systemFacts(), &kiln::app::SystemFacts::reportReady, &panel, [next] { (*next)(); },
                              Qt::SingleShotConnection);
    }
    if (cli.isSet(generate) || cli.isSet(generateMode) || cli.isSet(initImage)) {
        auto& panel = window.generatePanel();
        window.showPanel(&panel);
        if (cli.isSet(model)) panel.setModelPath(cli.value(model));
        if (cli.isSet(steps)) panel.setSteps(cli.value(steps).toInt());
        if (cli.isSet(size)) {
            const QStringList wh = cli.value(size).split(QLatin1Char('x'));
            if (wh.size() == 2) panel.setSize(wh[0].toInt(), wh[1].toInt());
        }
        kiln::app::GeneratePanel::Mode mode = kiln::app::GeneratePanel::Mode::Txt2Img;
        if (cli.isSet(generateMode) && !kiln::app::GeneratePanel::modeFromId(cli.value(generateMode), &mode))
            qWarning("no Generate mode called %s; there are txt2img, img2img and inpaint",
                     qPrintable(cli.value(generateMode)));
        else if (cli.isSet(generateMode)) panel.setMode(mode);
        // The image and mask are read on the thread pool (the window shows meanwhile); the mask waits for its
        // image. A file that does not read leaves its message in the panel, as Open… would, and nothing is
        // generated from what is not there.
        kiln::app::GenerateInitImage* init = panel.initImage();
        auto failed = std::make_shared<bool>(false);
        QObject::connect(init, &kiln::app::GenerateInitImage::imageLoaded, &panel, [failed](bool ok) {
            if (!ok) *failed = true;
        });
        QObject::connect(init, &kiln::app::GenerateInitImage::maskLoaded, &panel, [failed](bool ok) {
            if (!ok) *failed = true;
        });
        if (cli.isSet(initImage)) init->loadFile(cli.value(initImage));
        if (cli.isSet(mask)) init->loadMask(cli.value(mask));
        if (cli.isSet(strength)) panel.setStrength(cli.value(strength).toDouble());
        if (cli.isSet(generate)) {
            panel.setPrompt(cli.value(generate));
            auto start = [&panel, failed] {
                if (!*failed) panel.generate();
            };
            if (init->isLoading())
                QObject::connect(init, &kiln::app::GenerateInitImage::loadingFinished, &panel, start,
                                 Qt::SingleShotConnection);
            else start();
        }
    }
    if (cli.isSet(models)) {
        auto* panel = &window.modelsPanel();
        const QString name = cli.value(models);
        QObject::connect(panel, &kiln::app::ModelsPanel::scanFinished, panel, [panel, name] {
            panel->selectModel(name);
            panel->computeHashes();
        }, Qt::SingleShotConnection);
        window.showPanel(panel);  // showing it starts the scan
    }
    if (cli.isSet(quitAfter)) QTimer::singleShot(cli.value(quitAfter).toInt(), &window, &QWidget::close);
    return app.exec();
}
