// The node editor driven as a person drives it: mouse and keys on the real view, palette
// and inspector, then the model is asked what happened.
#include "node_editor_fixture.h"

#include "widgets/node_editor/edge_item.h"
#include "widgets/node_editor/node_clipboard.h"
#include "widgets/node_editor/node_editor.h"
#include "widgets/node_editor/node_inspector.h"
#include "widgets/node_editor/node_item.h"
#include "widgets/node_editor/node_layout.h"
#include "widgets/node_editor/node_palette.h"
#include "widgets/node_editor/node_scene.h"
#include "widgets/node_editor/node_view.h"
#include "widgets/theme.h"

#include <QAction>
#include <QApplication>
#include <QElapsedTimer>
#include <QJsonDocument>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QSpinBox>
#include <QTest>
#include <QUndoStack>

using namespace kiln::widgets;
using namespace kiln::widgets::test;

namespace {

struct Harness {
    SimpleNodeGraphModel model;
    NodeEditor editor;
    explicit Harness(bool rule = true)
    {
        model.setNodeTypes(convNetTypes());
        if (rule) model.setConnectRule(rankRule);
        editor.setModel(&model);
        editor.resize(1280, 760);
        editor.show();
        editor.activateWindow();
        editor.view()->setFocus();
    }
    NodeView* view() const { return editor.view(); }
    QWidget* vp() const { return editor.view()->viewport(); }
    NodeItem* item(const QString& id) const { return editor.scene()->nodeItem(id); }
    QPoint outPort(const QString& id, const QString& port) const { return view()->mapFromScene(item(id)->outputPos(port)); }
    QPoint inPort(const QString& id, const QString& port) const { return view()->mapFromScene(item(id)->inputPos(port)); }
    QPoint title(const QString& id) const
    {
        return view()->mapFromScene(item(id)->mapToScene(QPointF(item(id)->size().width() / 2, 12)));
    }
    QPoint emptyCorner() const { return vp()->rect().bottomRight() - QPoint(30, 30); }
    QString newest() const { return model.nodeIds().isEmpty() ? QString() : model.nodeIds().last(); }
    QString idNamed(const QString& name) const
    {
        for (const QString& id : model.nodeIds())
            if (model.node(id).name == name) return id;
        return {};
    }
};

// Press, a few moves with the button down, release: what a hand does.
void drag(QWidget* w, const QPoint& from, const QPoint& to, Qt::KeyboardModifiers mods = {},
          Qt::MouseButton button = Qt::LeftButton)
{
    QTest::mousePress(w, button, mods, from);
    for (int i = 1; i <= 4; ++i) QTest::mouseMove(w, from + (to - from) * i / 4);
    QTest::mouseRelease(w, button, mods, to);
}

void keys(QWidget* w, const QString& text)
{
    QTest::keyClick(w, Qt::Key_A, Qt::ControlModifier);  // replace whatever is there
    QTest::keyClicks(w, text);
    QTest::keyClick(w, Qt::Key_Return);
}

QString addFromPalette(Harness& h, const QString& query)
{
    QLineEdit* search = h.editor.findChild<QLineEdit*>(QStringLiteral("paletteSearch"));
    QTest::mouseClick(search, Qt::LeftButton);
    keys(search, query);
    return h.newest();
}

QString addWithTab(Harness& h, const QPoint& at, const QString& query)
{
    QTest::mouseMove(h.vp(), at);
    h.view()->setFocus();
    QTest::keyClick(h.view(), Qt::Key_Tab);
    NodeSearchPopup* popup = h.editor.searchPopup();
    if (!popup->isVisible()) return {};
    QTest::keyClicks(popup->searchBox(), query);
    QTest::keyClick(popup->searchBox(), Qt::Key_Return);
    // The offscreen platform has no window manager to hand activation back once the popup
    // closes (a desktop does); without it no shortcut would reach the editor.
    h.editor.activateWindow();
    return QTest::qWaitForWindowActive(&h.editor) ? h.newest() : QString();
}

// Everything a person could see change, in a stable order: for "undo all, redo all, equal".
QString snapshot(const NodeGraphModel& m)
{
    QStringList lines;
    QStringList ids = m.nodeIds();
    ids.sort();
    for (const QString& id : ids) {
        const NodeInfo n = m.node(id);
        lines << QStringLiteral("%1 %2 %3 (%4,%5) %6")
                     .arg(id, n.typeId, n.name)
                     .arg(n.pos.x())
                     .arg(n.pos.y())
                     .arg(QString::fromUtf8(QJsonDocument::fromVariant(n.params).toJson(QJsonDocument::Compact)));
    }
    QStringList edges;
    for (const EdgeInfo& e : m.edges()) edges << QStringLiteral("%1.%2>%3.%4").arg(e.from.node, e.from.port, e.to.node, e.to.port);
    edges.sort();
    return (lines + edges).join(QLatin1Char('\n'));
}

void wheel(QWidget* w, const QPoint& at, int delta)
{
    QWheelEvent e(at, w->mapToGlobal(at), QPoint(), QPoint(0, delta), Qt::NoButton, Qt::NoModifier, Qt::NoScrollPhase, false);
    QApplication::sendEvent(w, &e);
}

}  // namespace

class TestNodeEditor : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { applyTheme(*qApp, Theme::Dark); }

    void paletteSearchAddsNode()
    {
        Harness h;
        QVERIFY(QTest::qWaitForWindowExposed(&h.editor));
        const QString id = addFromPalette(h, QStringLiteral("conv"));
        QCOMPARE(h.model.nodeIds().size(), 1);
        QCOMPARE(h.model.node(id).typeId, QStringLiteral("node.conv2d"));
        QCOMPARE(h.editor.selectedNodeIds(), QStringList{id});  // the inspector shows the new node
        QCOMPARE(h.editor.inspectorWidget()->nodeId(), id);
        // Keywords find types whose name does not contain the word.
        addFromPalette(h, QStringLiteral("dense"));
        QCOMPARE(h.model.node(h.newest()).typeId, QStringLiteral("node.linear"));
        QVERIFY(h.item(h.newest())->pos() != h.item(id)->pos());  // fanned out, not stacked
    }

    void tabAndDoubleClickOpenSearchAtCursor()
    {
        Harness h;
        QVERIFY(QTest::qWaitForWindowActive(&h.editor));
        const QPoint at(300, 260);
        const QString relu = addWithTab(h, at, QStringLiteral("relu"));
        QVERIFY2(!relu.isEmpty(), "Tab did not open the node search");
        QCOMPARE(h.model.node(relu).typeId, QStringLiteral("node.relu"));
        QVERIFY(QLineF(h.item(relu)->pos(), h.view()->mapToScene(at)).length() < 40);  // placed at the cursor

        const QPoint empty(520, 420);
        QTest::mouseDClick(h.vp(), Qt::LeftButton, {}, empty);
        QVERIFY(h.editor.searchPopup()->isVisible());
        QTest::keyClicks(h.editor.searchPopup()->searchBox(), QStringLiteral("flat"));
        QCOMPARE(h.editor.searchPopup()->list()->currentItem()->text().section(QLatin1Char(' '), 0, 0),
                 QStringLiteral("Flatten"));
        QTest::keyClick(h.editor.searchPopup()->searchBox(), Qt::Key_Return);
        QCOMPARE(h.model.node(h.newest()).typeId, QStringLiteral("node.flatten"));
        QVERIFY(QLineF(h.item(h.newest())->pos(), h.view()->mapToScene(empty)).length() < 40);
        QVERIFY(!h.editor.searchPopup()->isVisible());
    }

    void dragFromPortConnectsWithFeedback()
    {
        Harness h;
        QVERIFY(QTest::qWaitForWindowActive(&h.editor));
        const QString img = addWithTab(h, QPoint(200, 250), QStringLiteral("image"));
        const QString conv = addWithTab(h, QPoint(560, 250), QStringLiteral("conv2d"));
        QVERIFY(!img.isEmpty() && !conv.isEmpty());

        const QPoint from = h.outPort(img, QStringLiteral("image")), to = h.inPort(conv, QStringLiteral("in"));
        QTest::mousePress(h.vp(), Qt::LeftButton, {}, from);
        QTest::mouseMove(h.vp(), (from + to) / 2);
        QVERIFY(h.view()->isConnecting());
        QTest::mouseMove(h.vp(), to);
        QLabel* feedback = h.view()->feedbackLabel();
        QVERIFY(feedback->isVisible());
        QVERIFY2(feedback->text().startsWith(QStringLiteral("✓")), qPrintable(feedback->text()));
        QTest::mouseRelease(h.vp(), Qt::LeftButton, {}, to);

        QCOMPARE(h.model.edges().size(), 1);
        QCOMPARE(h.model.edges().first(), (EdgeInfo{{img, "image"}, {conv, "in"}}));
        QCOMPARE(h.editor.scene()->edgeCount(), 1);
        QVERIFY(!feedback->isVisible());

        // Pulling the edge off the input and letting go on empty canvas removes it, as one undo step.
        drag(h.vp(), h.inPort(conv, QStringLiteral("in")), QPoint(400, 600));
        QVERIFY(h.model.edges().isEmpty());
        h.editor.undoStack()->undo();
        QCOMPARE(h.model.edges().size(), 1);
    }

    void pickedUpEdgeMovesToAnotherInput()
    {
        Harness h;
        QVERIFY(QTest::qWaitForWindowActive(&h.editor));
        const QString a = addWithTab(h, QPoint(150, 250), QStringLiteral("conv2d"));
        const QString b = addWithTab(h, QPoint(450, 150), QStringLiteral("relu"));
        const QString c = addWithTab(h, QPoint(450, 400), QStringLiteral("gelu"));
        drag(h.vp(), h.outPort(a, "out"), h.inPort(b, "in"));
        const int steps = h.editor.undoStack()->count();
        drag(h.vp(), h.inPort(b, "in"), h.inPort(c, "in"));  // grab the edge by its input end
        QCOMPARE(h.model.edges(), (QList<EdgeInfo>{{{a, "out"}, {c, "in"}}}));
        QCOMPARE(h.editor.undoStack()->count(), steps + 1);  // a reconnect is one step
        h.editor.undoStack()->undo();
        QCOMPARE(h.model.edges(), (QList<EdgeInfo>{{{a, "out"}, {b, "in"}}}));

        // Connecting onto a taken input replaces its edge, also as one step.
        drag(h.vp(), h.outPort(c, "out"), h.inPort(b, "in"));
        QCOMPARE(h.model.edges(), (QList<EdgeInfo>{{{c, "out"}, {b, "in"}}}));
        h.editor.undoStack()->undo();
        QCOMPARE(h.model.edges(), (QList<EdgeInfo>{{{a, "out"}, {b, "in"}}}));
    }

    void themeSwitchRestylesTheCanvas()
    {
        Harness h;
        QVERIFY(h.editor.scene()->nodeStyle().dark);
        const QString id = h.model.addNode("node.relu", {0, 0});
        applyTheme(*qApp, Theme::Light);
        QTRY_VERIFY(!h.editor.scene()->nodeStyle().dark);  // Qt delivers palette changes as posted events
        QCOMPARE(h.editor.scene()->backgroundBrush().style(), Qt::NoBrush);  // drawn from the style, not a brush
        QVERIFY(h.item(id)->rebuildCount() >= 2);                            // re-measured in the new fonts
        applyTheme(*qApp, Theme::Dark);
        QTRY_VERIFY(h.editor.scene()->nodeStyle().dark);
    }

    void refusedConnectionShowsReasonAndDoesNotConnect()
    {
        Harness h;
        QVERIFY(QTest::qWaitForWindowActive(&h.editor));
        const QString img = addWithTab(h, QPoint(150, 250), QStringLiteral("image"));
        const QString flat = addWithTab(h, QPoint(420, 250), QStringLiteral("flatten"));
        const QString conv = addWithTab(h, QPoint(700, 250), QStringLiteral("conv2d"));
        drag(h.vp(), h.outPort(img, "image"), h.inPort(flat, "in"));
        QCOMPARE(h.model.edges().size(), 1);
        const int steps = h.editor.undoStack()->count();

        const QPoint from = h.outPort(flat, "out"), to = h.inPort(conv, "in");
        QTest::mousePress(h.vp(), Qt::LeftButton, {}, from);
        QTest::mouseMove(h.vp(), (from + to) / 2);
        QTest::mouseMove(h.vp(), to);
        const QString reason = h.model.canConnect({flat, "out"}, {conv, "in"}).reason;
        QVERIFY(reason.contains(QStringLiteral("4-D")));
        QLabel* feedback = h.view()->feedbackLabel();
        QVERIFY(feedback->isVisible());
        QVERIFY2(feedback->text().contains(reason), qPrintable(feedback->text()));
        QVERIFY(h.vp()->grab().save(QCoreApplication::applicationDirPath() + QStringLiteral("/node_editor_refused.png")));
        QTest::mouseRelease(h.vp(), Qt::LeftButton, {}, to);

        QCOMPARE(h.model.edges().size(), 1);                  // nothing connected
        QCOMPARE(h.editor.undoStack()->count(), steps);       // and nothing to undo
        QVERIFY(feedback->isVisible() && feedback->text().contains(reason));  // still readable after the drop
        QVERIFY(h.editor.findChild<QLabel*>(QStringLiteral("editorStatus"))->text().contains(reason));

        // Dropping on a node that has no input does nothing at all.
        drag(h.vp(), h.outPort(flat, "out"), h.title(img));
        QCOMPARE(h.model.edges().size(), 1);
    }

    void inspectorEditsParameters()
    {
        Harness h;
        QVERIFY(QTest::qWaitForWindowActive(&h.editor));
        const QString conv = addWithTab(h, QPoint(300, 250), QStringLiteral("conv2d"));
        QTest::mouseClick(h.vp(), Qt::LeftButton, {}, h.emptyCorner());  // deselect
        QVERIFY(h.editor.selectedNodeIds().isEmpty());
        QTest::mouseClick(h.vp(), Qt::LeftButton, {}, h.title(conv));  // select by clicking it
        QCOMPARE(h.editor.selectedNodeIds(), QStringList{conv});

        NodeInspector* inspector = h.editor.inspectorWidget();
        auto* channels = inspector->findChild<QSpinBox*>(QStringLiteral("param_out_channels"));
        QVERIFY(channels);
        QCOMPARE(channels->maximum(), 4096);
        QVERIFY(channels->toolTip().contains(QStringLiteral("Number of filters")));
        QTest::mouseClick(channels, Qt::LeftButton);
        keys(channels, QStringLiteral("64"));
        QCOMPARE(h.model.node(conv).params.value("out_channels").toInt(), 64);

        auto* kernel = inspector->findChild<QLineEdit*>(QStringLiteral("param_kernel_size"));
        QTest::mouseClick(kernel, Qt::LeftButton);
        keys(kernel, QStringLiteral("5, 5"));
        QCOMPARE(h.model.node(conv).params.value("kernel_size").toList(), (QVariantList{5, 5}));

        // Out of range: refused, with the reason shown and the field back to the model's value.
        keys(kernel, QStringLiteral("5, 99"));
        QCOMPARE(h.model.node(conv).params.value("kernel_size").toList(), (QVariantList{5, 5}));
        auto* problem = inspector->findChild<QLabel*>(QStringLiteral("inspectorProblem"));
        QVERIFY2(problem->isVisible() && problem->text().contains(QStringLiteral("between 1 and 15")),
                 qPrintable(problem->text()));
        QCOMPARE(kernel->text(), QStringLiteral("5, 5"));

        auto* name = inspector->findChild<QLineEdit*>(QStringLiteral("inspectorName"));
        QTest::mouseClick(name, Qt::LeftButton);
        keys(name, QStringLiteral("stem"));
        QCOMPARE(h.model.node(conv).name, QStringLiteral("stem"));
        QCOMPARE(h.item(conv)->info().name, QStringLiteral("stem"));  // the canvas follows

        // Undo from the keyboard walks the inspector back too.
        h.view()->setFocus();
        QTest::keyClick(h.view(), Qt::Key_Z, Qt::ControlModifier);
        QCOMPARE(name->text(), h.model.node(conv).name);
        QVERIFY(h.model.node(conv).name != QStringLiteral("stem"));
    }

    void rubberBandSelectAndDelete()
    {
        Harness h;
        QVERIFY(QTest::qWaitForWindowActive(&h.editor));
        const QString a = addWithTab(h, QPoint(150, 200), QStringLiteral("image"));
        const QString b = addWithTab(h, QPoint(420, 200), QStringLiteral("conv2d"));
        const QString c = addWithTab(h, QPoint(420, 480), QStringLiteral("relu"));
        drag(h.vp(), h.outPort(a, "image"), h.inPort(b, "in"));
        drag(h.vp(), h.outPort(b, "out"), h.inPort(c, "in"));
        QCOMPARE(h.model.edges().size(), 2);
        QTest::mouseClick(h.vp(), Qt::LeftButton, {}, h.emptyCorner());

        // A band from empty canvas around the top two nodes.
        const QRectF top = h.item(a)->sceneBoundingRect().united(h.item(b)->sceneBoundingRect());
        drag(h.vp(), h.view()->mapFromScene(top.topLeft()) - QPoint(20, 20),
             h.view()->mapFromScene(top.bottomRight()) + QPoint(10, 10));
        QCOMPARE(h.editor.selectedNodeIds(), (QStringList{a, b}));

        QTest::keyClick(h.view(), Qt::Key_Delete);
        QCOMPARE(h.model.nodeIds(), QStringList{c});
        QVERIFY(h.model.edges().isEmpty());
        QTest::keyClick(h.view(), Qt::Key_Z, Qt::ControlModifier);  // one step brings all back
        QCOMPARE(h.model.nodeIds().size(), 3);
        QCOMPARE(h.model.edges().size(), 2);
        QCOMPARE(h.editor.scene()->edgeCount(), 2);

        // An edge is selected by clicking its curve and deleted alone.
        const QPoint onEdge = h.view()->mapFromScene(h.editor.scene()->edgeItem({{a, "image"}, {b, "in"}})->boundingRect().center());
        QTest::mouseClick(h.vp(), Qt::LeftButton, {}, onEdge);
        QVERIFY(h.editor.selectedNodeIds().isEmpty());
        QTest::keyClick(h.view(), Qt::Key_Delete);
        QCOMPARE(h.model.edges(), (QList<EdgeInfo>{{{b, "out"}, {c, "in"}}}));
        QCOMPARE(h.model.nodeIds().size(), 3);

        // Bare keys are typing outside the canvas: Delete in the palette's search box deletes text.
        QTest::mouseClick(h.vp(), Qt::LeftButton, {}, h.title(c));
        auto* search = h.editor.findChild<QLineEdit*>(QStringLiteral("paletteSearch"));
        search->setFocus();
        search->setText(QStringLiteral("conv"));
        search->setCursorPosition(0);
        QTest::keyClick(search, Qt::Key_Delete);
        QCOMPARE(search->text(), QStringLiteral("onv"));
        QCOMPARE(h.model.nodeIds().size(), 3);
    }

    void copyPasteRenamesAndOffsets()
    {
        Harness h;
        QVERIFY(QTest::qWaitForWindowActive(&h.editor));
        const QString a = addWithTab(h, QPoint(150, 200), QStringLiteral("image"));
        const QString b = addWithTab(h, QPoint(420, 200), QStringLiteral("conv2d"));
        const QString c = addWithTab(h, QPoint(700, 200), QStringLiteral("relu"));
        drag(h.vp(), h.outPort(a, "image"), h.inPort(b, "in"));
        drag(h.vp(), h.outPort(b, "out"), h.inPort(c, "in"));
        h.model.setParameter(b, "out_channels", 48);

        // Select conv and relu with ctrl+click, copy, paste.
        QTest::mouseClick(h.vp(), Qt::LeftButton, {}, h.title(b));
        QTest::mouseClick(h.vp(), Qt::LeftButton, Qt::ControlModifier, h.title(c));
        QCOMPARE(h.editor.selectedNodeIds(), (QStringList{b, c}));
        QTest::keyClick(h.view(), Qt::Key_C, Qt::ControlModifier);
        QTest::keyClick(h.view(), Qt::Key_V, Qt::ControlModifier);

        QCOMPARE(h.model.nodeIds().size(), 5);
        QCOMPARE(h.model.edges().size(), 3);  // the edge between the copies, not the one from the input
        const QStringList pasted = h.editor.selectedNodeIds();
        QCOMPARE(pasted.size(), 2);
        const NodeInfo conv2 = h.model.node(pasted[0]);
        QCOMPARE(conv2.typeId, QStringLiteral("node.conv2d"));
        QVERIFY(conv2.name != h.model.node(b).name);
        QCOMPARE(conv2.name, QStringLiteral("conv2d_2"));
        QCOMPARE(conv2.params.value("out_channels").toInt(), 48);
        QCOMPARE(conv2.pos, h.model.node(b).pos + QPointF(30, 30));
        QVERIFY(h.model.edges().contains(EdgeInfo{{pasted[0], "out"}, {pasted[1], "in"}}));

        QTest::keyClick(h.view(), Qt::Key_V, Qt::ControlModifier);  // a second paste steps further
        QCOMPARE(h.model.node(h.editor.selectedNodeIds()[0]).pos, h.model.node(b).pos + QPointF(60, 60));
        QCOMPARE(h.model.node(h.editor.selectedNodeIds()[0]).name, QStringLiteral("conv2d_3"));

        QTest::keyClick(h.view(), Qt::Key_Z, Qt::ControlModifier);
        QTest::keyClick(h.view(), Qt::Key_Z, Qt::ControlModifier);
        QCOMPARE(h.model.nodeIds(), (QStringList{a, b, c}));
    }

    void everyStepUndoesToEmptyAndRedoes()
    {
        Harness h;
        QVERIFY(QTest::qWaitForWindowActive(&h.editor));
        QUndoStack* undo = h.editor.undoStack();
        const QString img = addFromPalette(h, QStringLiteral("image"));                  // 1
        QTest::mouseClick(h.vp(), Qt::LeftButton, {}, h.emptyCorner());
        const QString conv = addWithTab(h, QPoint(620, 300), QStringLiteral("conv"));   // 2
        drag(h.vp(), h.outPort(img, "image"), h.inPort(conv, "in"));                     // 3
        QTest::mouseClick(h.vp(), Qt::LeftButton, {}, h.title(conv));
        auto* channels = h.editor.findChild<QSpinBox*>(QStringLiteral("param_out_channels"));
        QTest::mouseClick(channels, Qt::LeftButton);
        keys(channels, QStringLiteral("16"));                                              // 4
        auto* kernel = h.editor.findChild<QLineEdit*>(QStringLiteral("param_kernel_size"));
        QTest::mouseClick(kernel, Qt::LeftButton);
        keys(kernel, QStringLiteral("3, 5"));                                              // 5
        auto* name = h.editor.findChild<QLineEdit*>(QStringLiteral("inspectorName"));
        QTest::mouseClick(name, Qt::LeftButton);
        keys(name, QStringLiteral("conv1"));                                               // 6
        drag(h.vp(), h.title(conv), h.title(conv) + QPoint(60, 80));                      // 7
        h.view()->setFocus();
        QTest::keyClick(h.view(), Qt::Key_A, Qt::ControlModifier);
        QTest::keyClick(h.view(), Qt::Key_C, Qt::ControlModifier);
        QTest::keyClick(h.view(), Qt::Key_V, Qt::ControlModifier);                         // 8
        QCOMPARE(h.model.nodeIds().size(), 4);
        QTest::keyClick(h.view(), Qt::Key_Delete);                                         // 9
        QTest::keyClick(h.view(), Qt::Key_L, Qt::ControlModifier);                         // 10
        QTest::mouseClick(h.vp(), Qt::LeftButton, {}, h.title(conv));
        QTest::keyClick(h.view(), Qt::Key_Right);
        QTest::keyClick(h.view(), Qt::Key_Right);                                          // 11 (nudges merge)

        QCOMPARE(undo->count(), 11);
        QCOMPARE(h.model.nodeIds().size(), 2);
        QCOMPARE(h.model.node(conv).name, QStringLiteral("conv1"));
        QCOMPARE(h.model.node(conv).params.value("kernel_size").toList(), (QVariantList{3, 5}));
        const QString built = snapshot(h.model);

        for (int i = 0; i < 11; ++i) QTest::keyClick(h.view(), Qt::Key_Z, Qt::ControlModifier);
        QVERIFY(!undo->canUndo());
        QVERIFY(h.model.nodeIds().isEmpty());
        QVERIFY(h.model.edges().isEmpty());
        QCOMPARE(h.editor.scene()->nodeCount(), 0);
        QCOMPARE(h.editor.scene()->edgeCount(), 0);

        for (int i = 0; i < 11; ++i) QTest::keyClick(h.view(), Qt::Key_Z, Qt::ControlModifier | Qt::ShiftModifier);
        QVERIFY(!undo->canRedo());
        QCOMPARE(snapshot(h.model), built);
        QCOMPARE(h.item(conv)->pos(), h.model.node(conv).pos);
    }

    void zoomPanAndFit()
    {
        Harness h;
        QVERIFY(QTest::qWaitForWindowActive(&h.editor));
        for (const char* q : {"image", "conv2d", "relu", "flatten", "linear"}) addFromPalette(h, QString::fromLatin1(q));
        h.view()->setFocus();
        QTest::keyClick(h.view(), Qt::Key_L, Qt::ControlModifier);
        const qreal z0 = h.view()->zoom();
        wheel(h.vp(), QPoint(300, 300), 240);
        QVERIFY(h.view()->zoom() > z0);
        const QPointF anchored = h.view()->mapToScene(QPoint(300, 300));
        wheel(h.vp(), QPoint(300, 300), 120);
        QVERIFY(QLineF(h.view()->mapToScene(QPoint(300, 300)), anchored).length() < 2);  // zooms about the mouse
        for (int i = 0; i < 40; ++i) wheel(h.vp(), QPoint(300, 300), 240);
        QCOMPARE(h.view()->zoom(), NodeView::kMaxZoom);
        for (int i = 0; i < 60; ++i) QTest::keyClick(h.view(), Qt::Key_Minus, Qt::ControlModifier);
        QCOMPARE(h.view()->zoom(), NodeView::kMinZoom);
        QTest::keyClick(h.view(), Qt::Key_Plus, Qt::ControlModifier);
        QVERIFY(h.view()->zoom() > NodeView::kMinZoom);
        QTest::keyClick(h.view(), Qt::Key_0, Qt::ControlModifier);
        QCOMPARE(h.view()->zoom(), 1.0);
        QCOMPARE(h.editor.findChild<QLabel*>(QStringLiteral("zoomLabel"))->text(), QStringLiteral("100 %"));

        // Middle-drag and space+drag pan; neither moves a node nor makes an undo step.
        const int steps = h.editor.undoStack()->count();
        const QPointF c0 = h.view()->mapToScene(h.vp()->rect().center());
        drag(h.vp(), QPoint(600, 400), QPoint(500, 300), {}, Qt::MiddleButton);
        QVERIFY(QLineF(h.view()->mapToScene(h.vp()->rect().center()), c0 + QPointF(100, 100)).length() < 2);
        QTest::keyPress(h.view(), Qt::Key_Space);
        drag(h.vp(), QPoint(500, 300), QPoint(600, 400));
        QTest::keyRelease(h.view(), Qt::Key_Space);
        QVERIFY(QLineF(h.view()->mapToScene(h.vp()->rect().center()), c0).length() < 2);
        QCOMPARE(h.editor.undoStack()->count(), steps);

        QTest::keyClick(h.view(), Qt::Key_F);
        const QRectF visible = h.view()->mapToScene(h.vp()->rect()).boundingRect();
        QVERIFY(visible.contains(h.editor.scene()->nodesBoundingRect()));
        h.model.clear();
        h.editor.fitToView();  // empty: no crash, sane zoom
        QCOMPARE(h.view()->zoom(), 1.0);
    }

    void autoLayoutOrdersByDepth()
    {
        Harness h(false);
        QVERIFY(QTest::qWaitForWindowActive(&h.editor));
        // A diamond plus a tail, added in scrambled places.
        auto add = [&](const char* type, QPointF at) { return h.model.addNode(QString::fromLatin1(type), at); };
        const QString loss = add("node.cross_entropy", {0, 0});
        const QString in = add("node.input_image", {600, 400});
        const QString conv = add("node.conv2d", {-300, 200});
        const QString left = add("node.relu", {200, -300});
        const QString right = add("node.gelu", {900, 50});
        const QString sum = add("node.add", {-500, -200});
        const QString flat = add("node.flatten", {100, 100});
        const QString labels = add("node.input_labels", {300, 900});
        h.model.connectPorts({in, "image"}, {conv, "in"});
        h.model.connectPorts({conv, "out"}, {left, "in"});
        h.model.connectPorts({conv, "out"}, {right, "in"});
        h.model.connectPorts({left, "out"}, {sum, "a"});
        h.model.connectPorts({right, "out"}, {sum, "b"});
        h.model.connectPorts({sum, "out"}, {flat, "in"});
        h.model.connectPorts({flat, "out"}, {loss, "logits"});
        h.model.connectPorts({labels, "labels"}, {loss, "target"});
        const QString before = snapshot(h.model);

        h.view()->setFocus();
        QTest::keyClick(h.view(), Qt::Key_L, Qt::ControlModifier);
        const auto x = [&](const QString& id) { return h.model.node(id).pos.x(); };
        QVERIFY(x(in) < x(conv));
        QVERIFY(x(conv) < x(left));
        QCOMPARE(x(left), x(right));
        QVERIFY(x(left) < x(sum));
        QVERIFY(x(sum) < x(flat));
        QVERIFY(x(flat) < x(loss));
        QCOMPARE(x(labels), x(flat));  // a source sits just before its first consumer
        for (const QString& a : h.model.nodeIds())  // nothing overlaps
            for (const QString& b : h.model.nodeIds())
                if (a < b) QVERIFY(!h.item(a)->sceneBoundingRect().adjusted(12, 12, -12, -12).intersects(
                               h.item(b)->sceneBoundingRect().adjusted(12, 12, -12, -12)));
        QCOMPARE(h.editor.undoStack()->count(), 1);
        h.editor.undoStack()->undo();
        QCOMPARE(snapshot(h.model), before);

        // Depths directly, including a cycle (which must not hang).
        const auto depth = layerDepths({"a", "b", "c"}, {{{"a", "o"}, {"b", "i"}}, {{"b", "o"}, {"c", "i"}}, {{"c", "o"}, {"b", "j"}}});
        QCOMPARE(depth.value("a"), 0);
        QVERIFY(depth.value("b") >= 1 && depth.value("c") >= 1);
    }

    void clipboardJsonRoundTrip()
    {
        SimpleNodeGraphModel m;
        m.setNodeTypes(convNetTypes());
        const QString a = m.addNode("node.conv2d", {10, 20});
        const QString b = m.addNode("node.dropout", {300, 20});
        m.setParameter(a, "kernel_size", QStringLiteral("[7, 7]"));
        m.setParameter(b, "p", 0.25);
        m.connectPorts({a, "out"}, {b, "in"});
        NodeClip clip = clipFromJson(clipToJson(m, {a, b}), m);
        QCOMPARE(clip.nodes.size(), 2);
        QCOMPARE(clip.edges.size(), 1);
        QCOMPARE(clip.nodes[0].params.value("kernel_size").toList(), (QVariantList{7, 7}));
        QCOMPARE(clip.nodes[0].params.value("out_channels").typeId(), QMetaType::Int);  // not a JSON double
        QCOMPARE(clip.nodes[1].params.value("p").toDouble(), 0.25);
        prepareForPaste(clip, m, {30, 30});
        QCOMPARE(clip.nodes[0].name, QStringLiteral("conv2d_2"));
        QCOMPARE(clip.nodes[1].name, QStringLiteral("dropout_2"));
        QVERIFY(clipFromJson("{\"kind\":\"kiln-nodes\",\"version\":99}", m).isEmpty());  // from a newer Kiln
        QVERIFY(clipFromJson("not json", m).isEmpty());
        const QByteArray foreign = R"({"kind":"kiln-nodes","version":1,"nodes":[{"id":"x","type":"node.nope","name":"q"}]})";
        QCOMPARE(clipFromJson(foreign, m).skipped, QStringList{"q (node.nope)"});
    }

    void threeHundredNodesStayFast()
    {
        Harness h(false);
        QVERIFY(QTest::qWaitForWindowExposed(&h.editor));
        // grab() forces a real paint event each time; repaint() of an unexposed window would not.
        const auto paint = [&] { return h.editor.view()->viewport()->grab().toImage(); };
        QElapsedTimer t;
        t.start();
        QString prev;
        for (int i = 0; i < 300; ++i) {
            const QString id = h.model.addNode(i % 3 == 0 ? "node.conv2d" : i % 3 == 1 ? "node.relu" : "node.dropout",
                                               QPointF((i % 20) * 230, (i / 20) * 140));
            if (!prev.isEmpty()) h.model.connectPorts({prev, "out"}, {id, "in"});
            prev = id;
        }
        const qint64 buildMs = t.restart();
        inferShapes(h.model);
        h.editor.fitToView();
        const QImage img = paint();
        const qint64 paintMs = t.restart();
        for (int i = 0; i < 5; ++i) paint();
        const qint64 repaintMs = t.restart() / 5;
        h.editor.view()->resetZoom();  // full detail: every title, port label and subtitle drawn
        h.editor.view()->centerOn(h.editor.scene()->nodesBoundingRect().center());
        paint();
        t.restart();
        for (int i = 0; i < 5; ++i) paint();
        const qint64 detailMs = t.restart() / 5;
        // Dragging one node redraws it and its two edges.
        NodeItem* mid = h.item(h.model.nodeIds()[150]);
        const QPoint grab = h.view()->mapFromScene(mid->mapToScene(QPointF(40, 10)));
        QTest::mousePress(h.vp(), Qt::LeftButton, {}, grab);
        t.restart();
        for (int i = 1; i <= 20; ++i) {
            QTest::mouseMove(h.vp(), grab + QPoint(i * 5, i * 3));
            QApplication::processEvents();  // the view's own (partial) update
        }
        const qint64 dragMs = t.restart() / 20;
        QTest::mouseRelease(h.vp(), Qt::LeftButton, {}, grab + QPoint(100, 60));
        QCOMPARE(h.editor.undoStack()->count(), 1);
        qInfo("300 nodes: build %lld ms, infer + fit + first paint %lld ms, repaint at fit %lld ms, at 100 %% %lld ms, "
              "drag step %lld ms", buildMs, paintMs, repaintMs, detailMs, dragMs);
        QVERIFY(detailMs < 1000);
        QVERIFY(dragMs < 500);
        QVERIFY(!img.isNull());
        // Generous bounds for a loaded 2-core machine; the point is no quadratic blow-up.
        QVERIFY(buildMs < 3000);
        QVERIFY(repaintMs < 1000);

        // One annotation change rebuilds one item; a move rebuilds none.
        const int rebuilds = h.editor.scene()->layoutRebuilds();
        const QString some = h.model.nodeIds()[150];
        h.model.setNodeAnnotation(some, {NodeState::Error, {}, QStringLiteral("broken on purpose")});
        QCOMPARE(h.editor.scene()->layoutRebuilds(), rebuilds + 1);
        h.model.setPosition(some, {5, 5});
        QCOMPARE(h.editor.scene()->layoutRebuilds(), rebuilds + 1);
        inferShapes(h.model);  // everything re-inferred, only the changed node differs
        QCOMPARE(h.editor.scene()->layoutRebuilds(), rebuilds + 2);
    }

    void screenshotsInBothThemes()
    {
        for (const Theme theme : {Theme::Dark, Theme::Light}) {
            applyTheme(*qApp, theme);
            Harness h(false);
            h.editor.resize(1600, 860);
            QVERIFY(QTest::qWaitForWindowExposed(&h.editor));
            SimpleNodeGraphModel& m = h.model;
            auto add = [&](const char* type, const char* name) {
                NodeInfo n;
                n.typeId = QString::fromLatin1(type);
                n.name = QString::fromLatin1(name);
                return m.insertNode(n);
            };
            auto link = [&](const QString& a, const QString& b, const char* port = "in") {
                m.connectPorts({a, m.node(a).outputs.first()}, {b, QString::fromLatin1(port)});
            };
            const QString in = add("node.input_image", "image");
            const QString c1 = add("node.conv2d", "conv1");
            const QString r1 = add("node.relu", "relu1");
            const QString p1 = add("node.maxpool2d", "pool1");
            const QString c2 = add("node.conv2d", "conv2");
            const QString r2 = add("node.gelu", "gelu2");
            const QString p2 = add("node.maxpool2d", "pool2");
            const QString fl = add("node.flatten", "flatten");
            const QString f1 = add("node.linear", "fc1");
            const QString dr = add("node.dropout", "dropout");
            const QString f2 = add("node.linear", "fc2");
            const QString bad = add("node.conv2d", "conv_head");
            const QString lab = add("node.input_labels", "labels");
            const QString loss = add("node.cross_entropy", "loss");
            m.setParameter(c2, "out_channels", 64);
            m.setParameter(f2, "out_features", 10);
            link(in, c1), link(c1, r1), link(r1, p1), link(p1, c2), link(c2, r2), link(r2, p2), link(p2, fl);
            link(fl, f1), link(f1, dr), link(dr, f2), link(f2, loss, "logits"), link(lab, loss, "target");
            link(fl, bad);  // the mistake the picture must show in red
            inferShapes(m);
            h.editor.autoLayout();
            h.editor.selectNodes({bad});  // the inspector explains the red node too
            // Readable zoom on the middle of the net, where the red node is.
            h.view()->resetZoom();
            h.view()->zoomBy(0.85);
            h.view()->centerOn((h.item(r2)->sceneBoundingRect().center() + h.item(bad)->sceneBoundingRect().center()) / 2 +
                               QPointF(60, 40));
            QCOMPARE(m.nodeAnnotation(bad).state, NodeState::Error);
            QCOMPARE(m.edgeLabel({{c2, "out"}, {r2, "in"}}), QStringLiteral("[B, 64, 14, 14]"));
            QVERIFY(m.nodeAnnotation(f2).subtitle.contains(QStringLiteral("params")));
            QApplication::processEvents();
            const QString path = QCoreApplication::applicationDirPath() +
                                 QStringLiteral("/node_editor_%1.png").arg(themeId(theme));
            QVERIFY(h.editor.grab().save(path));
            qInfo("screenshot: %s", qPrintable(path));
            if (theme == Theme::Dark) {  // the Tab search, filtered
                h.editor.openNodeSearch(QPoint(300, 300));
                QTest::keyClicks(h.editor.searchPopup()->searchBox(), QStringLiteral("li"));
                QVERIFY(h.editor.searchPopup()->grab().save(QCoreApplication::applicationDirPath() +
                                                            QStringLiteral("/node_editor_search.png")));
                h.editor.searchPopup()->hide();
            }
        }
        applyTheme(*qApp, Theme::Dark);
    }
};

QTEST_MAIN(TestNodeEditor)
#include "test_node_editor.moc"
