#include "main_window.h"

#include "about_dialog.h"
#include "jobs_model.h"
#include "designer/graph_editor_model.h"
#include "kiln/weights.h"
#include "panels/designer_panel.h"
#include "panels/jobs_panel.h"
#include "panels/generate_panel.h"
#include "panels/models_panel.h"
#include "panels/run_panel.h"
#include "panels/train_panel.h"
#include "widgets/node_editor/node_editor.h"
#include "panels/weights_panel.h"
#include "plugin_loader.h"
#include "preferences_dialog.h"
#include "qt/engine_thread.h"
#include "system_facts.h"
#include "widgets/theme.h"

#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QCloseEvent>
#include <QDockWidget>
#include <QFileInfo>
#include <QLabel>
#include <QMenuBar>
#include <QProgressBar>
#include <QSettings>
#include <QStatusBar>
#include <QTabWidget>

// Resources compiled into a static library are dropped by the linker unless referenced.
static void initKilnResources()
{
    Q_INIT_RESOURCE(kiln);
}

namespace kiln::app {

namespace {
constexpr int kMaxRecent = 10;
}

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent), engine_(new kiln::qt::EngineThread(this)), jobsModel_(new JobsModel(*engine_, this)),
      facts_(new SystemFacts(*engine_, QSettings().value(QStringLiteral("vulkan/device")).toString(), this)),
      tabs_(new QTabWidget(this)), weights_(new WeightsPanel(*engine_, this)), designer_(new DesignerPanel(this)),
      train_(new TrainPanel(*engine_, designer_->model(), this)),
      run_(new RunPanel(*engine_, designer_->model(), *facts_, this)),
      generate_(new GeneratePanel(*engine_, this)), models_(new ModelsPanel(*engine_, this)),
      graphLabel_(new QLabel(this)),
      jobsDock_(new QDockWidget(tr("Jobs"), this)), jobLabel_(new QLabel(this)), jobProgress_(new QProgressBar(this)),
      deviceLabel_(new QLabel(this))
{
    initKilnResources();
    setObjectName(QStringLiteral("mainWindow"));
    setWindowTitle(QStringLiteral("Kiln"));
    setWindowIcon(QIcon(QStringLiteral(":/kiln/icons/kiln.svg")));
    setDockOptions(QMainWindow::AnimatedDocks | QMainWindow::AllowTabbedDocks);

    tabs_->setObjectName(QStringLiteral("panelTabs"));
    tabs_->setDocumentMode(true);
    tabs_->addTab(designer_, tr("Designer"));
    tabs_->addTab(train_, tr("Train"));
    tabs_->addTab(run_, tr("Run"));
    tabs_->addTab(generate_, tr("Generate"));
    tabs_->addTab(weights_, tr("Weights"));
    tabs_->addTab(models_, tr("Models"));
    setCentralWidget(tabs_);

    jobsDock_->setObjectName(QStringLiteral("jobsDock"));
    jobsDock_->setWidget(new JobsPanel(*jobsModel_, jobsDock_));
    addDockWidget(Qt::BottomDockWidgetArea, jobsDock_);

    jobLabel_->setObjectName(QStringLiteral("runningJobLabel"));
    jobProgress_->setObjectName(QStringLiteral("runningJobProgress"));
    jobProgress_->setMaximumWidth(180);
    jobProgress_->setRange(0, 1000);
    jobProgress_->hide();
    deviceLabel_->setObjectName(QStringLiteral("deviceLabel"));
    deviceLabel_->setText(facts_->shortSummary());
    statusBar()->addWidget(jobLabel_);
    statusBar()->addWidget(jobProgress_);
    graphLabel_->setObjectName(QStringLiteral("graphTotalsLabel"));
    statusBar()->addPermanentWidget(graphLabel_);
    statusBar()->addPermanentWidget(deviceLabel_);
    auto showTotals = [this] {
        const auto& info = designer_->model().info();
        graphLabel_->setText(tr("Graph: %1 params · %2 FLOPs%3")
                                 .arg(QString::fromStdString(formatCount(info.totalParams)),
                                      QString::fromStdString(formatCount(static_cast<std::uint64_t>(info.totalFlops))),
                                      info.firstError ? tr(" · shape error") : QString()));
    };
    connect(&designer_->model(), &GraphEditorModel::graphChanged, this, showTotals);
    showTotals();
    designer_->setEngine(engine_);
    connect(designer_, &DesignerPanel::statusMessage, this, &MainWindow::showStatus);
    connect(designer_, &DesignerPanel::trainRequested, this, [this] { tabs_->setCurrentWidget(train_); });

    connect(jobsModel_, &JobsModel::runningJobChanged, this, &MainWindow::updateRunningJob);
    connect(jobsModel_, &QAbstractItemModel::dataChanged, this, &MainWindow::updateRunningJob);
    connect(facts_, &SystemFacts::reportReady, this, [this] {
        deviceLabel_->setText(facts_->shortSummary());
        const auto& r = *facts_->report();
        if (r.blas.slowReference)
            showStatus(tr("Warning: LibTorch is using the slow reference BLAS; install libopenblas0-openmp."));
    });
    connect(weights_, &WeightsPanel::fileOpened, this, &MainWindow::addRecent);
    connect(weights_, &WeightsPanel::statusMessage, this, &MainWindow::showStatus);
    connect(generate_, &GeneratePanel::statusMessage, this, &MainWindow::showStatus);
    connect(models_, &ModelsPanel::statusMessage, this, &MainWindow::showStatus);
    // "Use in Generate": the model (or VAE) goes into the Generate form, which comes to the front.
    connect(models_, &ModelsPanel::useCheckpoint, this, [this](const QString& path) {
        generate_->setModelPath(path);
        tabs_->setCurrentWidget(generate_);
    });
    connect(models_, &ModelsPanel::useVae, this, [this](const QString& path) {
        generate_->setVaePath(path);
        tabs_->setCurrentWidget(generate_);
    });

    buildMenus();
    defaultState_ = saveState();
    restoreLayout();
    updateRunningJob();
}

MainWindow::~MainWindow() = default;

void MainWindow::buildMenus()
{
    auto* file = menuBar()->addMenu(tr("&File"));
    auto* open = file->addAction(tr("&Open Weights…"), weights_, &WeightsPanel::chooseAndOpen);
    open->setShortcut(QKeySequence::Open);
    recentMenu_ = file->addMenu(tr("Open &Recent"));
    rebuildRecentMenu();
    file->addSeparator();
    auto* prefs = file->addAction(tr("&Preferences…"), this, &MainWindow::showPreferences);
    prefs->setMenuRole(QAction::PreferencesRole);
    prefs->setShortcut(QKeySequence::Preferences);
    file->addSeparator();
    auto* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);

    auto* edit = menuBar()->addMenu(tr("&Edit"));
    edit->addActions(designer_->editor().editActions());

    auto* view = menuBar()->addMenu(tr("&View"));
    view->addActions(designer_->editor().viewActions());
    view->addSeparator();
    view->addAction(jobsDock_->toggleViewAction());
    auto* theme = view->addMenu(tr("&Theme"));
    auto* group = new QActionGroup(this);
    const QString current = QSettings().value(QStringLiteral("ui/theme"), QStringLiteral("system")).toString();
    for (const auto& [id, label] : {std::pair{QStringLiteral("system"), tr("System")},
                                    std::pair{QStringLiteral("light"), tr("Light")},
                                    std::pair{QStringLiteral("dark"), tr("Dark")}}) {
        auto* a = theme->addAction(label);
        a->setObjectName(QStringLiteral("theme_") + id);
        a->setCheckable(true);
        a->setChecked(id == current);
        group->addAction(a);
        connect(a, &QAction::triggered, this, [this, id] { setTheme(id); });
    }
    view->addSeparator();
    view->addAction(tr("&Reset Layout"), this, [this] { restoreState(defaultState_); jobsDock_->show(); });

    toolsMenu_ = menuBar()->addMenu(tr("&Tools"));
    toolsMenu_->setObjectName(QStringLiteral("toolsMenu"));

    auto* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About Kiln"), this, &MainWindow::showAbout);
    help->addAction(tr("About &Qt"), qApp, &QApplication::aboutQt);
}

void MainWindow::loadPlugins()
{
    const PluginLoadResult r = kiln::app::loadPlugins(*this);
    plugins_ = r.loaded;
    for (const QString& f : r.failed) plugins_ << tr("failed: %1").arg(f);
}

void MainWindow::showPreferences()
{
    PreferencesDialog dialog(*facts_, this);
    if (dialog.exec() != QDialog::Accepted) return;
    // The dialog saved the model folders; a showing Models panel rescans when they changed.
    models_->foldersChanged();
    setTheme(dialog.theme());
    for (QAction* a : findChildren<QAction*>())
        if (a->objectName() == QStringLiteral("theme_") + dialog.theme()) a->setChecked(true);
    QSettings s;
    if (dialog.vulkanDevice() != s.value(QStringLiteral("vulkan/device")).toString()) {
        s.setValue(QStringLiteral("vulkan/device"), dialog.vulkanDevice());
        deviceLabel_->setText(tr("Probing devices…"));
        facts_->probe(dialog.vulkanDevice());
    }
}

void MainWindow::setTheme(const QString& id)
{
    QSettings().setValue(QStringLiteral("ui/theme"), id);
    widgets::applyTheme(*qApp, widgets::themeFromId(id));
}

void MainWindow::restoreLayout()
{
    QSettings s;
    if (!restoreGeometry(s.value(QStringLiteral("window/geometry")).toByteArray())) {
        resize(1280, 800);
        resizeDocks({jobsDock_}, {170}, Qt::Vertical);
    }
    restoreState(s.value(QStringLiteral("window/state")).toByteArray());
    tabs_->setCurrentIndex(s.value(QStringLiteral("window/tab"), 0).toInt());
}

void MainWindow::closeEvent(QCloseEvent* e)
{
    QSettings s;
    s.setValue(QStringLiteral("window/geometry"), saveGeometry());
    s.setValue(QStringLiteral("window/state"), saveState());
    s.setValue(QStringLiteral("window/tab"), tabs_->currentIndex());
    e->accept();
}

void MainWindow::showPanel(QWidget* panel)
{
    tabs_->setCurrentWidget(panel);
}

void MainWindow::showStatus(const QString& text)
{
    statusBar()->showMessage(text, 8000);
}

void MainWindow::showAbout()
{
    auto* about = new AboutDialog(*facts_, plugins_, this);
    about->setAttribute(Qt::WA_DeleteOnClose);
    about->show();
}

void MainWindow::updateRunningJob()
{
    auto* h = jobsModel_->runningJob();
    if (!h) {
        jobLabel_->setText(engine_->pendingCount() ? tr("Jobs queued") : tr("Ready"));
        jobProgress_->hide();
        return;
    }
    QString text = tr("Running: %1").arg(h->title());
    const QString eta = formatSeconds(h->etaSeconds());
    if (!eta.isEmpty()) text += tr(" · ETA %1").arg(eta);
    jobLabel_->setText(text);
    jobProgress_->setVisible(true);
    if (h->progress() < 0) jobProgress_->setRange(0, 0);
    else {
        jobProgress_->setRange(0, 1000);
        jobProgress_->setValue(static_cast<int>(h->progress() * 1000));
    }
}

void MainWindow::addRecent(const QString& path)
{
    QSettings s;
    QStringList recent = s.value(QStringLiteral("recent/weights")).toStringList();
    recent.removeAll(path);
    recent.prepend(path);
    while (recent.size() > kMaxRecent) recent.removeLast();
    s.setValue(QStringLiteral("recent/weights"), recent);
    rebuildRecentMenu();
}

void MainWindow::rebuildRecentMenu()
{
    recentMenu_->clear();
    const QStringList recent = QSettings().value(QStringLiteral("recent/weights")).toStringList();
    for (const QString& path : recent)
        recentMenu_->addAction(QFileInfo(path).fileName(), this, [this, path] { weights_->open(path); })->setToolTip(path);
    recentMenu_->setEnabled(!recent.isEmpty());
}

}  // namespace kiln::app
