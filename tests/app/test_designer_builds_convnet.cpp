// Issue 3's must-show: the designer driven as a person drives it builds the shipped ConvNet
// sample from an empty canvas. Every edit goes through the UI — the Tab node search on the
// canvas, the inspector's name field and parameter widgets, drags from an output port to an
// input port — and the model is only read. Saving gives a graph equal to the sample, and
// Ctrl+Z, once per edit, walks back to the empty canvas.
#include "designer/graph_editor_model.h"
#include "kiln/graph.h"
#include "kiln/graph_file.h"
#include "panels/designer_panel.h"
#include "widgets/node_editor/node_editor.h"
#include "widgets/node_editor/node_inspector.h"
#include "widgets/node_editor/node_item.h"
#include "widgets/node_editor/node_palette.h"
#include "widgets/node_editor/node_scene.h"
#include "widgets/node_editor/node_view.h"

#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QElapsedTimer>
#include <QFile>
#include <QLineEdit>
#include <QListWidget>
#include <QSettings>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <QUndoStack>

using namespace kiln::app;
using namespace kiln::widgets;
namespace g = kiln::graph;

namespace {

QString qs(const std::string& s) { return QString::fromStdString(s); }

// Press, a few moves with the button down, release: what a hand does.
void drag(QWidget* w, const QPoint& from, const QPoint& to)
{
    QTest::mousePress(w, Qt::LeftButton, {}, from);
    for (int i = 1; i <= 4; ++i) QTest::mouseMove(w, from + (to - from) * i / 4);
    QTest::mouseRelease(w, Qt::LeftButton, {}, to);
}

void keys(QWidget* w, const QString& text)
{
    QTest::keyClick(w, Qt::Key_A, Qt::ControlModifier);  // replace whatever is there
    QTest::keyClicks(w, text);
    QTest::keyClick(w, Qt::Key_Return);
}

// The text a person types for a parameter value.
QString typed(const g::ParamValue& v)
{
    return std::visit(
        [](const auto& x) -> QString {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::int64_t>) return QString::number(x);
            else if constexpr (std::is_same_v<T, double>) return QString::number(x, 'g', QLocale::FloatingPointShortest);
            else if constexpr (std::is_same_v<T, bool>) return x ? QStringLiteral("true") : QStringLiteral("false");
            else if constexpr (std::is_same_v<T, std::string>) return QString::fromStdString(x);
            else {
                QStringList parts;
                for (auto i : x) parts << QString::number(i);
                return parts.join(QStringLiteral(", "));
            }
        },
        v);
}

struct Designer {
    DesignerPanel panel;
    NodeEditor& editor() { return panel.editor(); }
    GraphEditorModel& model() { return panel.model(); }
    NodeView* view() { return editor().view(); }
    QWidget* vp() { return editor().view()->viewport(); }
    QUndoStack* undo() { return editor().undoStack(); }
    NodeItem* item(const QString& id) { return editor().scene()->nodeItem(id); }
    QPoint outPort(const QString& id, const QString& port) { return view()->mapFromScene(item(id)->outputPos(port)); }
    QPoint inPort(const QString& id, const QString& port) { return view()->mapFromScene(item(id)->inputPos(port)); }
    QString newest() { return model().nodeIds().isEmpty() ? QString() : model().nodeIds().last(); }

    // Tab on the canvas with the mouse at `at`, type the display name, Enter.
    QString addWithTab(const QPoint& at, const QString& query)
    {
        QTest::mouseMove(vp(), at);
        view()->setFocus();
        QTest::keyClick(view(), Qt::Key_Tab);
        NodeSearchPopup* popup = editor().searchPopup();
        if (!popup->isVisible()) return {};
        QTest::keyClicks(popup->searchBox(), query);
        QTest::keyClick(popup->searchBox(), Qt::Key_Return);
        // The offscreen platform has no window manager to hand activation back once the popup
        // closes (a desktop does); without it no shortcut would reach the editor.
        panel.activateWindow();
        return QTest::qWaitForWindowActive(&panel) ? newest() : QString();
    }
};

}  // namespace

class TestDesignerBuildsConvNet : public QObject {
    Q_OBJECT

private:
    QTemporaryDir dir_;

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(dir_.isValid());
        QStandardPaths::setTestModeEnabled(true);  // the autosave goes to the test data dir
        QSettings::setDefaultFormat(QSettings::IniFormat);
        QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, dir_.filePath(QStringLiteral("settings")));
        QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, dir_.filePath(QStringLiteral("settings")));
        QFile::remove(DesignerPanel::autosavePath());
    }

    void buildsTheConvNetSampleFromAnEmptyCanvas()
    {
        QElapsedTimer clock;
        clock.start();
        QFile shipped(QStringLiteral(":/kiln/samples/fashion_convnet.kgraph"));  // as the app ships it
        QVERIFY(shipped.open(QIODevice::ReadOnly));
        auto loaded = g::parseGraph(shipped.readAll().toStdString(), "fashion_convnet");
        QVERIFY2(loaded.ok(), loaded.ok() ? "" : loaded.error().message().c_str());
        const g::Graph sample = std::move(*loaded);
        QCOMPARE(sample.nodes.size(), std::size_t(18));

        Designer d;
        d.panel.newGraph();
        d.panel.resize(1600, 1000);
        d.panel.show();
        d.panel.activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(&d.panel));
        QVERIFY(d.model().nodeIds().isEmpty());
        QCOMPARE(d.undo()->count(), 0);

        // Zoom out (a view change, not an edit) so that a 6 x 3 grid of nodes fits the canvas.
        QAction* zoomOut = d.editor().action(NodeEditor::Action::ZoomOut);
        while (d.view()->zoom() > 0.6) zoomOut->trigger();
        QCOMPARE(d.undo()->count(), 0);

        const QSize vpSize = d.vp()->size();
        const int cols = 6, rows = 3;
        const int dx = vpSize.width() / cols, dy = vpSize.height() / rows;
        auto cell = [&](int i) { return QPoint(20 + (i % cols) * dx, 30 + (i / cols) * dy); };

        int edits = 0;
        auto stepped = [&](const char* what) {
            ++edits;
            if (d.undo()->count() != edits || d.undo()->index() != edits)
                qWarning("after %s: %d undo steps, %d edits", what, int(d.undo()->count()), edits);
            return d.undo()->count() == edits && d.undo()->index() == edits;
        };

        NodeInspector* inspector = d.editor().inspectorWidget();
        auto* nameField = inspector->findChild<QLineEdit*>(QStringLiteral("inspectorName"));
        QVERIFY(nameField);

        QHash<g::NodeId, QString> idOf;  // sample node -> the node built for it
        for (std::size_t i = 0; i < sample.nodes.size(); ++i) {
            const g::Node& want = sample.nodes[i];
            QString displayName;
            for (const NodeTypeInfo& t : d.model().nodeTypes())
                if (t.id == qs(want.type)) displayName = t.displayName;
            QVERIFY2(!displayName.isEmpty(), want.type.c_str());

            const QString id = d.addWithTab(cell(int(i)), displayName);
            QVERIFY2(!id.isEmpty(), qPrintable(QStringLiteral("Tab search did not add %1").arg(displayName)));
            QCOMPARE(d.model().node(id).typeId, qs(want.type));
            QVERIFY(stepped("add"));
            idOf.insert(want.id, id);
            QCOMPARE(inspector->nodeId(), id);  // the new node is selected and inspected

            if (d.model().node(id).name != qs(want.name)) {
                QTest::mouseClick(nameField, Qt::LeftButton);
                keys(nameField, qs(want.name));
                QCOMPARE(d.model().node(id).name, qs(want.name));
                QVERIFY(stepped("rename"));
            }

            for (const auto& [param, value] : want.params) {
                const QString p = qs(param);
                const QVariant current = d.model().node(id).params.value(p);
                if (current == toVariant(value)) continue;  // the default already
                QWidget* editor = inspector->editorFor(p);  // the "param_<name>" widget
                QVERIFY2(editor, qPrintable(p));
                if (auto* box = qobject_cast<QSpinBox*>(editor)) {
                    QTest::mouseClick(box, Qt::LeftButton);
                    keys(box, typed(value));
                } else if (auto* check = qobject_cast<QCheckBox*>(editor)) {
                    QTest::mouseClick(check, Qt::LeftButton, {}, QPoint(check->height() / 2, check->height() / 2));
                } else if (auto* combo = qobject_cast<QComboBox*>(editor)) {
                    const int row = combo->findText(typed(value));
                    QVERIFY2(row >= 0, qPrintable(typed(value)));
                    QTest::mouseClick(combo, Qt::LeftButton);
                    QAbstractItemView* list = combo->view();
                    QTRY_VERIFY(list->isVisible());
                    QTest::mouseClick(list->viewport(), Qt::LeftButton, {},
                                      list->visualRect(list->model()->index(row, 0)).center());
                } else if (auto* line = qobject_cast<QLineEdit*>(editor)) {
                    QTest::mouseClick(line, Qt::LeftButton);
                    keys(line, typed(value));
                } else {
                    QFAIL(qPrintable(QStringLiteral("no editor for %1").arg(p)));
                }
                QVERIFY2(d.model().node(id).params.value(p) == toVariant(value),
                         qPrintable(QStringLiteral("%1.%2 = %3, wanted %4")
                                        .arg(qs(want.name), p, d.model().node(id).params.value(p).toString(),
                                             typed(value))));
                QVERIFY(stepped("parameter"));
            }
        }
        QCOMPARE(d.model().nodeIds().size(), 18);

        for (const g::Edge& e : sample.edges) {
            const QString from = idOf.value(e.from.node), to = idOf.value(e.to.node);
            const QPoint a = d.outPort(from, qs(e.from.port)), b = d.inPort(to, qs(e.to.port));
            QVERIFY2(d.vp()->rect().contains(a) && d.vp()->rect().contains(b), "both ports on screen");
            drag(d.vp(), a, b);
            const EdgeInfo wanted{{from, qs(e.from.port)}, {to, qs(e.to.port)}};
            QVERIFY2(d.model().edges().contains(wanted),
                     qPrintable(QStringLiteral("%1.%2 -> %3.%4 not connected")
                                    .arg(d.model().node(from).name, qs(e.from.port), d.model().node(to).name,
                                         qs(e.to.port))));
            QVERIFY(stepped("connect"));
        }
        QCOMPARE(d.model().edges().size(), qsizetype(sample.edges.size()));
        QVERIFY(!d.model().info().firstError);  // shapes check out end to end
        QVERIFY(d.vp()->grab().save(dir_.filePath(QStringLiteral("built.png"))));

        const QString out = dir_.filePath(QStringLiteral("built.kgraph"));
        QVERIFY(d.panel.saveAs(out));
        auto saved = g::loadGraph(out.toStdString());
        QVERIFY2(saved.ok(), saved.ok() ? "" : saved.error().message().c_str());
        QVERIFY(g::sameNetwork(*saved, sample));

        // Undo every step from the keyboard: exactly one Ctrl+Z per edit.
        d.panel.activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(&d.panel));
        d.view()->setFocus();
        int presses = 0;
        while (d.undo()->index() > 0 && presses < edits + 5) {
            const int before = d.undo()->index();
            QTest::keyClick(d.view(), Qt::Key_Z, Qt::ControlModifier);
            ++presses;
            QCOMPARE(d.undo()->index(), before - 1);
        }
        QCOMPARE(presses, edits);
        QCOMPARE(d.undo()->index(), 0);
        QVERIFY(d.model().graph().nodes.empty());
        QVERIFY(d.model().graph().edges.empty());
        QVERIFY(d.model().nodeIds().isEmpty());
        QCOMPARE(d.editor().scene()->nodeCount(), 0);
        QCOMPARE(d.editor().scene()->edgeCount(), 0);
        qInfo("%d edits through the UI (%d nodes, %d edges), built, saved and undone in %lld ms", edits,
              int(sample.nodes.size()), int(sample.edges.size()), clock.elapsed());
    }
};

QTEST_MAIN(TestDesignerBuildsConvNet)
#include "test_designer_builds_convnet.moc"
