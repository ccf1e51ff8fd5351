#include "panels/designer_panel.h"

#include "designer/graph_editor_model.h"
#include "export/export_files.h"
#include "kiln/graph_file.h"
#include "qt/engine_thread.h"
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
#include <cstring>
#include <memory>
#include <optional>

namespace kiln::app {

void DesignerPanel::rebuildRecent()
{
    recent_->clear();
    const QStringList files = QSettings().value(QStringLiteral("recent/graphs")).toStringList();
    for (const QString& f : files) recent_->addAction(QFileInfo(f).fileName(), this, [this, f] { open(f); })->setToolTip(f);
    recent_->setEnabled(!files.isEmpty());
}

void DesignerPanel::remember(const QString& path)
{
    QSettings s;
    QStringList files = s.value(QStringLiteral("recent/graphs")).toStringList();
    files.removeAll(path);
    files.prepend(path);
    while (files.size() > 10) files.removeLast();
    s.setValue(QStringLiteral("recent/graphs"), files);
    rebuildRecent();
}

void DesignerPanel::exportModel()
{
    if (model_->info().firstError) {
        QMessageBox::warning(this, tr("Export"), QString::fromStdString(model_->info().firstError->message()));
        return;
    }
    const QString weights = QFileDialog::getOpenFileName(
        this, tr("Trained weights to export (Cancel: freshly initialised weights)"),
        QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) + QStringLiteral("/runs"),
        tr("Weights (*.safetensors)"));
    QString base = QFileDialog::getSaveFileName(this, tr("Export as (.py, .safetensors and .onnx are written)"),
                                                QFileInfo(path_).absolutePath() + QLatin1Char('/') +
                                                    (path_.isEmpty() ? QStringLiteral("model") : QFileInfo(path_).completeBaseName()));
    if (base.isEmpty()) return;
    for (const char* ext : {".py", ".safetensors", ".onnx", ".kgraph"})
        if (base.endsWith(QLatin1String(ext))) base.chop(static_cast<int>(std::strlen(ext)));
    if (!engine_) return;
    const auto graph = model_->graph();
    const std::string b = base.toStdString(), w = weights.toStdString();
    auto report = std::make_shared<std::optional<Result<kiln::exporting::ExportReport>>>();
    auto* job = engine_->submit(tr("Export %1").arg(QFileInfo(base).fileName()), [graph, b, w, report](JobContext&) -> Result<void> {
        const std::string graphPath = b + ".kgraph";
        if (auto r = kiln::graph::saveGraph(graph, graphPath); !r) return r.error();
        *report = kiln::exporting::exportFiles({graphPath, w, b + ".py", b + ".safetensors", b + ".onnx"});
        if (!report->value()) return report->value().error();
        return success();
    });
    connect(job, &kiln::qt::JobHandle::finished, this, [this, job, report](JobState s) {
        if (s == JobState::Failed) {
            QMessageBox::warning(this, tr("Export"), job->errorText());
        } else if (s == JobState::Succeeded && *report) {
            const auto& r = report->value().value();
            QStringList lines;
            for (const auto& f : r.written) lines << QString::fromStdString(f);
            for (const auto& e : r.onnxBeyondOpenCv) lines << tr("note: %1").arg(QString::fromStdString(e.message()));
            Q_EMIT statusMessage(tr("Exported %1 files").arg(r.written.size()));
            QMessageBox::information(this, tr("Export"), lines.join(QLatin1Char('\n')));
        }
    });
}

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
    recent_ = new QMenu(tr("Open Recent"), this);
    auto* recentButton = new QToolButton(this);
    recentButton->setText(tr("Recent"));
    recentButton->setMenu(recent_);
    recentButton->setPopupMode(QToolButton::InstantPopup);
    bar->addWidget(recentButton);
    rebuildRecent();
    bar->addSeparator();
    auto* exportAction = bar->addAction(tr("Export…"), this, &DesignerPanel::exportModel);
    exportAction->setToolTip(tr("PyTorch code, safetensors weights and ONNX"));
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
    remember(path);
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
