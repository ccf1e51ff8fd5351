// kiln: the studio.
#include "kiln/system_info.h"
#include "main_window.h"
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
    cli.addPositionalArgument(QStringLiteral("file"), QStringLiteral("A weights file to open (.safetensors, .ckpt, .pt)."));
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
    if (!cli.positionalArguments().isEmpty()) window.weightsPanel().open(cli.positionalArguments().first());
    if (cli.isSet(quitAfter)) QTimer::singleShot(cli.value(quitAfter).toInt(), &window, &QWidget::close);
    return app.exec();
}
