// The studio window: panels as tabs and docks, menus, the running job in the status bar,
// layout and settings kept between runs.
#pragma once

#include "kiln/plugin_api.h"

#include <QMainWindow>
#include <QStringList>

class QLabel;
class QMenu;
class QProgressBar;
class QTabWidget;
class QDockWidget;

namespace kiln::qt {
class EngineThread;
}

namespace kiln::app {

class JobsModel;
class SystemFacts;
class WeightsPanel;
class DesignerPanel;
class TrainPanel;
class RunPanel;
class GeneratePanel;
class ModelsPanel;

class MainWindow : public QMainWindow, public StudioContext {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    // StudioContext (what plugins get)
    kiln::qt::EngineThread& engine() override { return *engine_; }
    QWidget* window() override { return this; }
    QMenu* toolsMenu() override { return toolsMenu_; }
    void showStatus(const QString& text) override;

    JobsModel& jobs() { return *jobsModel_; }
    SystemFacts& systemFacts() { return *facts_; }
    WeightsPanel& weightsPanel() { return *weights_; }
    DesignerPanel& designerPanel() { return *designer_; }
    TrainPanel& trainPanel() { return *train_; }
    RunPanel& runPanel() { return *run_; }
    GeneratePanel& generatePanel() { return *generate_; }
    ModelsPanel& modelsPanel() { return *models_; }
    QStringList loadedPlugins() const { return plugins_; }
    void showAbout();
    void showPanel(QWidget* panel);
    void showPreferences();
    void loadPlugins();

protected:
    void closeEvent(QCloseEvent* e) override;

private:
    void buildMenus();
    void restoreLayout();
    void updateRunningJob();
    void addRecent(const QString& path);
    void rebuildRecentMenu();
    void setTheme(const QString& id);

    kiln::qt::EngineThread* engine_;
    JobsModel* jobsModel_;
    SystemFacts* facts_;
    QTabWidget* tabs_;
    WeightsPanel* weights_;
    DesignerPanel* designer_;
    TrainPanel* train_;
    RunPanel* run_;
    GeneratePanel* generate_;
    ModelsPanel* models_;
    QLabel* graphLabel_;
    QDockWidget* jobsDock_;
    QMenu* toolsMenu_ = nullptr;
    QMenu* recentMenu_ = nullptr;
    QLabel* jobLabel_;
    QProgressBar* jobProgress_;
    QLabel* deviceLabel_;
    QStringList plugins_;
    QByteArray defaultState_;
};

}  // namespace kiln::app
