// kiln: the studio.
#include "kiln/system_info.h"
#include "main_window.h"
#include "panels/designer_panel.h"
#include "panels/train_panel.h"
#include "panels/weights_panel.h"
#include "widgets/theme.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QSettings>
#include <QTimer>

int main(int argc, char** argv)
{
    kiln::ensurePassiveOpenMP(argv);
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
    if (cli.isSet(quitAfter)) QTimer::singleShot(cli.value(quitAfter).toInt(), &window, &QWidget::close);
    return app.exec();
}
