#include "panels/designer_panel.h"

#include "designer/graph_editor_model.h"
#include "kiln/graph_file.h"
#include "widgets/node_editor/node_editor.h"
#include "widgets/node_editor/node_view.h"

#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenu>
#include <QMessageBox>
#include <QSettings>
#include <QStandardPaths>
#include <QToolBar>
#include <QToolButton>
#include <QUndoStack>
#include <QVBoxLayout>

namespace kiln::app {

DesignerPanel::DesignerPanel(QWidget* parent)
    : QWidget(parent), model_(new GraphEditorModel(this)), editor_(new kiln::widgets::NodeEditor(this)),
      summary_(new QLabel(this))
{
    editor_->setModel(model_);
    summary_->setObjectName(QStringLiteral("graphSummary"));
    summary_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    summary_->setWordWrap(true);

    auto* bar = new QToolBar(this);
    bar->addAction(tr("New"), this, &DesignerPanel::newGraph);
    bar->addAction(tr("Open…"), this, [this] {
        const QString p = QFileDialog::getOpenFileName(this, tr("Open graph"), QFileInfo(path_).absolutePath(),
                                                       tr("Kiln graphs (*.kgraph);;All files (*)"));
        if (!p.isEmpty()) open(p);
    });
    auto* samples = new QMenu(tr("Samples"), this);
    for (const QString& name : sampleNames())
        samples->addAction(name, this, [this, name] { openSample(name); });
    auto* samplesButton = new QToolButton(this);
    samplesButton->setText(tr("Samples"));
    samplesButton->setMenu(samples);
    samplesButton->setPopupMode(QToolButton::InstantPopup);
    samplesButton->setObjectName(QStringLiteral("samplesButton"));
    bar->addWidget(samplesButton);
    bar->addAction(tr("Save"), this, &DesignerPanel::save);
    bar->addAction(tr("Save As…"), this, [this] { saveAs(); });
    bar->addSeparator();
    auto* train = bar->addAction(tr("Train…"), this, &DesignerPanel::trainRequested);
    train->setObjectName(QStringLiteral("trainGraphAction"));

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(bar);
    layout->addWidget(editor_, 1);
    layout->addWidget(summary_);

    autosaveTimer_.setSingleShot(true);
    autosaveTimer_.setInterval(1500);
    connect(&autosaveTimer_, &QTimer::timeout, this, &DesignerPanel::autosave);
    connect(model_, &GraphEditorModel::graphChanged, this, [this] {
        updateSummary();
        autosaveTimer_.start();
    });
    connect(editor_, &kiln::widgets::NodeEditor::statusMessage, this, &DesignerPanel::statusMessage);

    // Whatever was on the canvas when Kiln last stopped, crash or not.
    QFile autosaved(autosavePath());
    if (autosaved.open(QIODevice::ReadOnly)) {
        const QString json = QString::fromUtf8(autosaved.readAll());
        const QString lastPath = QSettings().value(QStringLiteral("designer/path")).toString();
        adopt(json, tr("the autosaved graph"), lastPath);
    }
    updateSummary();
}

QStringList DesignerPanel::sampleNames()
{
    QStringList names;
    for (const QString& f : QDir(QStringLiteral(":/kiln/samples")).entryList({QStringLiteral("*.kgraph")}))
        names << QFileInfo(f).completeBaseName();
    return names;
}

QString DesignerPanel::autosavePath()
{
    const QString dir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
    QDir().mkpath(dir);
    return dir + QStringLiteral("/autosave.kgraph");
}

void DesignerPanel::newGraph()
{
    model_->setGraph({});
    editor_->undoStack()->clear();
    path_.clear();
    QSettings().remove(QStringLiteral("designer/path"));
}

bool DesignerPanel::adopt(const QString& json, const QString& where, const QString& path)
{
    auto graph = kiln::graph::parseGraph(json.toStdString(), where.toStdString());
    if (!graph) {
        Q_EMIT statusMessage(QString::fromStdString(graph.error().message()));
        return false;
    }
    present(std::move(*graph), path);
    return true;
}

void DesignerPanel::present(kiln::graph::Graph graph, const QString& path)
{
    model_->setGraph(std::move(graph));
    editor_->undoStack()->clear();
    path_ = path;
    QSettings().setValue(QStringLiteral("designer/path"), path_);
    // Take the person to the first node where shapes fail, at a readable zoom.
    const auto bad = model_->info().firstErrorNode;
    if (bad != kiln::graph::kNoNode) {
        const QStringList ids{QString::number(bad)};
        editor_->selectNodes(ids);
        editor_->view()->resetZoom();
        editor_->view()->centerOnNodes(ids);
    } else {
        editor_->fitToView();
    }
}

bool DesignerPanel::open(const QString& path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly) || f.size() > 64 * 1024 * 1024) {
        QMessageBox::warning(this, tr("Open graph"), tr("Cannot read %1: %2").arg(path, f.errorString()));
        return false;
    }
    auto graph = kiln::graph::parseGraph(f.readAll().toStdString(), path.toStdString());
    if (!graph) {
        QMessageBox::warning(this, tr("Open graph"), QString::fromStdString(graph.error().message()));
        return false;
    }
    present(std::move(*graph), path);
    Q_EMIT statusMessage(tr("Opened %1").arg(QFileInfo(path).fileName()));
    return true;
}

bool DesignerPanel::openSample(const QString& name)
{
    QFile f(QStringLiteral(":/kiln/samples/%1.kgraph").arg(name));
    if (!f.open(QIODevice::ReadOnly)) return false;
    return adopt(QString::fromUtf8(f.readAll()), name, QString());
}

bool DesignerPanel::save()
{
    return path_.isEmpty() ? saveAs() : saveAs(path_);
}

bool DesignerPanel::saveAs(const QString& given)
{
    QString path = given;
    if (path.isEmpty()) {
        path = QFileDialog::getSaveFileName(this, tr("Save graph"), path_, tr("Kiln graphs (*.kgraph)"));
        if (path.isEmpty()) return false;
        if (!path.endsWith(QStringLiteral(".kgraph"))) path += QStringLiteral(".kgraph");
    }
    if (auto r = kiln::graph::saveGraph(model_->graph(), path.toStdString()); !r) {
        QMessageBox::warning(this, tr("Save graph"), QString::fromStdString(r.error().message()));
        return false;
    }
    path_ = path;
    QSettings().setValue(QStringLiteral("designer/path"), path_);
    editor_->undoStack()->setClean();
    Q_EMIT statusMessage(tr("Saved %1").arg(QFileInfo(path).fileName()));
    return true;
}

void DesignerPanel::autosave()
{
    if (auto r = kiln::graph::saveGraph(model_->graph(), autosavePath().toStdString()); !r)
        Q_EMIT statusMessage(tr("Autosave failed: %1").arg(QString::fromStdString(r.error().message())));
}

void DesignerPanel::updateSummary()
{
    const auto& info = model_->info();
    summary_->setText(model_->summary());
    summary_->setStyleSheet(info.firstError ? QStringLiteral("color: #d9534f;") : QString());
}

}  // namespace kiln::app
