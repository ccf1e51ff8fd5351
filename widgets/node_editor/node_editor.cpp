#include "widgets/node_editor/node_editor.h"

#include "widgets/node_editor/edge_item.h"
#include "widgets/node_editor/node_clipboard.h"
#include "widgets/node_editor/node_commands.h"
#include "widgets/node_editor/node_inspector.h"
#include "widgets/node_editor/node_item.h"
#include "widgets/node_editor/node_layout.h"
#include "widgets/node_editor/node_palette.h"
#include "widgets/node_editor/node_scene.h"
#include "widgets/node_editor/node_view.h"

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QEvent>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMimeData>
#include <QSplitter>
#include <QTimer>
#include <QToolBar>
#include <QUndoStack>
#include <QVBoxLayout>

namespace kiln::widgets {

namespace {
constexpr qreal kPasteStep = 30;
}  // namespace

NodeEditor::NodeEditor(QWidget* parent) : QWidget(parent)
{
    setObjectName(QStringLiteral("nodeEditor"));
    undo_ = new QUndoStack(this);
    undo_->setObjectName(QStringLiteral("nodeEditorUndoStack"));
    scene_ = new NodeScene(this);
    scene_->setNodeStyle(NodeStyle::fromPalette(palette()));
    view_ = new NodeView(scene_);
    palette_ = new NodePalette;
    inspector_ = new NodeInspector;
    popup_ = new NodeSearchPopup(this);
    createActions();
    buildLayout();
    wireView();
    updateActions();
}

NodeEditor::~NodeEditor()
{
    // Deleting selected items emits selectionChanged: nobody here may hear it any more.
    scene_->disconnect(this);
    undo_->clear();
    scene_->setModel(nullptr);
    // The view (inside the splitter) goes before the scene it shows, so that an edge being
    // dragged at that moment is freed while its scene still exists.
    delete splitter_;
}

void NodeEditor::createActions()
{
    auto make = [this](Action id, const QString& text, const QString& name, QList<QKeySequence> keys,
                       void (NodeEditor::*slot)()) {
        auto* a = new QAction(text, this);
        a->setObjectName(name);
        a->setShortcuts(keys);
        // Keys with a modifier work wherever the focus is in the editor (never in another
        // editor). Bare keys (Delete, F) only on the canvas: in the palette or inspector
        // they are typing.
        const bool bare = !keys.isEmpty() && !(keys.first()[0].keyboardModifiers() & Qt::ControlModifier);
        a->setShortcutContext(bare ? Qt::WidgetShortcut : Qt::WidgetWithChildrenShortcut);
        if (slot) connect(a, &QAction::triggered, this, slot);
        if (bare) view_->addAction(a);
        else addAction(a);
        actions_.insert(int(id), a);
        return a;
    };
    QAction* undo = undo_->createUndoAction(this, tr("Undo"));
    undo->setObjectName(QStringLiteral("actionUndo"));
    undo->setIconText(tr("Undo"));  // the toolbar keeps a steady width; menus say what is undone
    undo->setShortcuts(QKeySequence::Undo);
    undo->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    addAction(undo);
    actions_.insert(int(Action::Undo), undo);
    QAction* redo = undo_->createRedoAction(this, tr("Redo"));
    redo->setObjectName(QStringLiteral("actionRedo"));
    redo->setIconText(tr("Redo"));
    // Both common redo keys on every platform: people bring their habits from other apps.
    QList<QKeySequence> redoKeys = QKeySequence::keyBindings(QKeySequence::Redo);
    for (const QKeySequence& k : {QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_Z), QKeySequence(Qt::CTRL | Qt::Key_Y)})
        if (!redoKeys.contains(k)) redoKeys << k;
    redo->setShortcuts(redoKeys);
    redo->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    addAction(redo);
    actions_.insert(int(Action::Redo), redo);

    make(Action::Cut, tr("Cu&t"), QStringLiteral("actionCut"), QKeySequence::keyBindings(QKeySequence::Cut),
         &NodeEditor::cutSelection);
    make(Action::Copy, tr("&Copy"), QStringLiteral("actionCopy"), QKeySequence::keyBindings(QKeySequence::Copy),
         &NodeEditor::copySelection);
    make(Action::Paste, tr("&Paste"), QStringLiteral("actionPaste"), QKeySequence::keyBindings(QKeySequence::Paste),
         &NodeEditor::paste);
    make(Action::Duplicate, tr("D&uplicate"), QStringLiteral("actionDuplicate"), {QKeySequence(Qt::CTRL | Qt::Key_D)},
         &NodeEditor::duplicateSelection);
    make(Action::Delete, tr("&Delete"), QStringLiteral("actionDelete"),
         {QKeySequence(Qt::Key_Delete), QKeySequence(Qt::Key_Backspace)}, &NodeEditor::deleteSelection);
    QAction* all = make(Action::SelectAll, tr("Select &All"), QStringLiteral("actionSelectAll"),
                        QKeySequence::keyBindings(QKeySequence::SelectAll), nullptr);
    connect(all, &QAction::triggered, this, [this] { selectNodes(model_ ? model_->nodeIds() : QStringList()); });

    QAction* in = make(Action::ZoomIn, tr("Zoom &In"), QStringLiteral("actionZoomIn"),
                       {QKeySequence::ZoomIn, QKeySequence(Qt::CTRL | Qt::Key_Equal)}, nullptr);
    connect(in, &QAction::triggered, this, [this] { view_->zoomBy(1.25); });
    QAction* out = make(Action::ZoomOut, tr("Zoom &Out"), QStringLiteral("actionZoomOut"),
                        QKeySequence::keyBindings(QKeySequence::ZoomOut), nullptr);
    connect(out, &QAction::triggered, this, [this] { view_->zoomBy(0.8); });
    QAction* reset = make(Action::ZoomReset, tr("Actual &Size"), QStringLiteral("actionZoomReset"),
                          {QKeySequence(Qt::CTRL | Qt::Key_0)}, nullptr);
    connect(reset, &QAction::triggered, this, [this] { view_->resetZoom(); });
    make(Action::FitView, tr("&Fit to View"), QStringLiteral("actionFitView"),
         {QKeySequence(Qt::Key_F), QKeySequence(Qt::Key_Home)}, &NodeEditor::fitToView);
    make(Action::AutoLayout, tr("Auto-&Layout"), QStringLiteral("actionAutoLayout"), {QKeySequence(Qt::CTRL | Qt::Key_L)},
         &NodeEditor::autoLayout);
    // Tab itself is the canvas' key (a Tab shortcut would steal focus navigation from the
    // inspector's fields); the menu text still teaches it.
    QAction* add = make(Action::AddNode, tr("&Add Node…\tTab"), QStringLiteral("actionAddNode"), {}, nullptr);
    add->setIconText(tr("Add Node…"));
    connect(add, &QAction::triggered, this, [this] { openNodeSearch(view_->viewport()->rect().center()); });

    connect(undo_, &QUndoStack::indexChanged, this, [this] { updateActions(); });
}

void NodeEditor::buildLayout()
{
    toolBar_ = new QToolBar(this);
    toolBar_->setObjectName(QStringLiteral("nodeEditorToolBar"));
    toolBar_->setToolButtonStyle(Qt::ToolButtonTextOnly);
    toolBar_->setIconSize(QSize(16, 16));
    toolBar_->addAction(action(Action::AddNode));
    toolBar_->addSeparator();
    toolBar_->addAction(action(Action::Undo));
    toolBar_->addAction(action(Action::Redo));
    toolBar_->addSeparator();
    toolBar_->addAction(action(Action::ZoomOut));
    toolBar_->addAction(action(Action::ZoomIn));
    toolBar_->addAction(action(Action::FitView));
    toolBar_->addAction(action(Action::AutoLayout));

    auto* canvas = new QWidget;
    auto* canvasLayout = new QVBoxLayout(canvas);
    canvasLayout->setContentsMargins(0, 0, 0, 0);
    canvasLayout->setSpacing(0);
    canvasLayout->addWidget(toolBar_);
    canvasLayout->addWidget(view_, 1);
    auto* strip = new QWidget;
    auto* stripLayout = new QHBoxLayout(strip);
    stripLayout->setContentsMargins(8, 3, 8, 3);
    status_ = new QLabel;
    status_->setObjectName(QStringLiteral("editorStatus"));
    status_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    zoomLabel_ = new QLabel(QStringLiteral("100 %"));
    zoomLabel_->setObjectName(QStringLiteral("zoomLabel"));
    stripLayout->addWidget(status_, 1);
    stripLayout->addWidget(zoomLabel_);
    canvasLayout->addWidget(strip);

    splitter_ = new QSplitter(Qt::Horizontal, this);
    splitter_->setObjectName(QStringLiteral("nodeEditorSplitter"));
    splitter_->addWidget(palette_);
    splitter_->addWidget(canvas);
    splitter_->addWidget(inspector_);
    splitter_->setStretchFactor(0, 0);
    splitter_->setStretchFactor(1, 1);
    splitter_->setStretchFactor(2, 0);
    splitter_->setSizes({190, 700, 250});
    splitter_->setChildrenCollapsible(false);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(splitter_);
}

void NodeEditor::wireView()
{
    connect(scene_, &QGraphicsScene::selectionChanged, this, [this] {
        inspector_->setNodes(scene_->selectedNodeIds());
        updateActions();
        Q_EMIT selectionChanged();
    });
    connect(view_, &NodeView::connectRequested, this,
            [this](const PortRef& from, const PortRef& to, const EdgeInfo& detached) {
                if (!model_) return;
                EditResult r;
                undo_->push(new ConnectCommand(model_, from, to,
                                               detached.from.node.isEmpty() ? std::nullopt : std::optional(detached), &r));
                if (!r) showMessage(r.reason, true);
            });
    connect(view_, &NodeView::disconnectRequested, this, [this](const EdgeInfo& e) {
        if (model_) undo_->push(new DeleteCommand(model_, {}, {e}));
    });
    connect(view_, &NodeView::connectRefused, this, [this](const QString& why) { showMessage(why, true); });
    connect(view_, &NodeView::nodesDragged, this, [this] {
        const MoveCommand::Moves moves = scene_->takeDraggedNodes();
        if (model_ && !moves.isEmpty())
            undo_->push(new MoveCommand(model_, moves, moves.size() == 1 ? tr("Move node") : tr("Move %1 nodes").arg(moves.size())));
    });
    connect(view_, &NodeView::nudgeRequested, this, [this](const QPointF& d) {
        if (!model_) return;
        MoveCommand::Moves moves;
        for (const QString& id : scene_->selectedNodeIds()) {
            const QPointF p = model_->node(id).pos;
            moves.insert(id, {p, p + d});
        }
        if (!moves.isEmpty()) undo_->push(new MoveCommand(model_, moves, tr("Nudge"), true));
    });
    connect(view_, &NodeView::searchRequested, this, &NodeEditor::openNodeSearch);
    connect(view_, &NodeView::nodeTypeDropped, this,
            [this](const QString& type, const QPointF& at) { addNode(type, at); });
    connect(view_, &NodeView::nodeDoubleClicked, this, [this](const QString& id) {
        selectNodes({id});
        if (auto* name = inspector_->findChild<QLineEdit*>(QStringLiteral("inspectorName"))) {
            name->setFocus();
            name->selectAll();
        }
    });
    connect(view_, &NodeView::zoomChanged, this,
            [this](qreal z) { zoomLabel_->setText(QStringLiteral("%1 %").arg(qRound(z * 100))); });
    connect(view_, &NodeView::contextMenuRequested, this, [this](const QPoint& pos) {
        QMenu menu(this);
        const bool onItem = view_->itemAt(pos) != nullptr;
        if (onItem) {
            for (Action a : {Action::Cut, Action::Copy, Action::Duplicate, Action::Delete}) menu.addAction(action(a));
            menu.addSeparator();
        }
        QAction* add = menu.addAction(tr("Add Node…"));
        connect(add, &QAction::triggered, this, [this, pos] { openNodeSearch(pos); });
        for (Action a : {Action::Paste, Action::SelectAll, Action::AutoLayout, Action::FitView}) menu.addAction(action(a));
        menu.exec(view_->viewport()->mapToGlobal(pos));
    });

    connect(palette_, &NodePalette::nodeChosen, this, [this](const QString& type) {
        addNode(type, freeSpotNear(view_->mapToScene(view_->viewport()->rect().center())));
    });
    connect(popup_, &NodeSearchPopup::nodeChosen, this, [this](const QString& type) {
        addNode(type, searchScenePos_);
        view_->setFocus();
    });
    connect(inspector_, &NodeInspector::renameRequested, this, [this](const QString& id, const QString& name) {
        if (!model_) return;
        EditResult r;
        undo_->push(new RenameCommand(model_, id, name, &r));
        if (!r) {
            inspector_->refresh();
            inspector_->showProblem(r.reason);
            showMessage(r.reason, true);
        }
    });
    connect(inspector_, &NodeInspector::parameterEdited, this,
            [this](const QString& id, const QString& param, const QVariant& value) {
                if (!model_) return;
                EditResult r;
                undo_->push(new SetParameterCommand(model_, id, param, value, &r));
                if (!r) {
                    inspector_->refresh();
                    inspector_->showProblem(r.reason);
                    showMessage(r.reason, true);
                } else {
                    inspector_->showProblem({});
                }
            });
}

void NodeEditor::setModel(NodeGraphModel* model)
{
    for (const auto& c : std::as_const(modelConnections_)) disconnect(c);
    modelConnections_.clear();
    undo_->clear();
    model_ = model;
    scene_->setModel(model);
    inspector_->setModel(model);
    const QList<NodeTypeInfo> types = model ? model->nodeTypes() : QList<NodeTypeInfo>{};
    palette_->setNodeTypes(types);
    popup_->setNodeTypes(types);
    if (model) {
        modelConnections_ << connect(model, &NodeGraphModel::nodeTypesChanged, this, [this] {
            palette_->setNodeTypes(model_->nodeTypes());
            popup_->setNodeTypes(model_->nodeTypes());
        });
        // A loaded file is a new document: the old history's ids mean nothing in it.
        modelConnections_ << connect(model, &NodeGraphModel::modelReset, undo_, &QUndoStack::clear);
    }
    pasteCount_ = 0;
    updateActions();
}

QAction* NodeEditor::action(Action a) const { return actions_.value(int(a)); }

QList<QAction*> NodeEditor::editActions() const
{
    QList<QAction*> out;
    for (Action a : {Action::Undo, Action::Redo, Action::Cut, Action::Copy, Action::Paste, Action::Duplicate,
                     Action::Delete, Action::SelectAll})
        out << action(a);
    return out;
}

QList<QAction*> NodeEditor::viewActions() const
{
    QList<QAction*> out;
    for (Action a : {Action::AddNode, Action::ZoomIn, Action::ZoomOut, Action::ZoomReset, Action::FitView, Action::AutoLayout})
        out << action(a);
    return out;
}

void NodeEditor::updateActions()
{
    const bool nodes = !scene_->selectedNodeIds().isEmpty();
    const bool any = nodes || !scene_->selectedEdges().isEmpty();
    action(Action::Cut)->setEnabled(nodes);
    action(Action::Copy)->setEnabled(nodes);
    action(Action::Duplicate)->setEnabled(nodes);
    action(Action::Delete)->setEnabled(any);
}

QStringList NodeEditor::selectedNodeIds() const { return scene_->selectedNodeIds(); }

void NodeEditor::selectNodes(const QStringList& ids) { scene_->selectNodes(ids); }

void NodeEditor::showMessage(const QString& text, bool problem)
{
    status_->setText(text);
    status_->setStyleSheet(problem ? QStringLiteral("color: %1;").arg(scene_->nodeStyle().error.name()) : QString());
    Q_EMIT statusMessage(text);
}

QPointF NodeEditor::freeSpotNear(const QPointF& scenePos) const
{
    // Nodes added one after another from the palette fan out instead of stacking.
    QPointF p = scenePos - QPointF(75, 30);
    for (int i = 0; i < 50 && scene_->nodeAt(p + QPointF(20, 10)); ++i) p += QPointF(24, 24);
    return p;
}

QString NodeEditor::addNode(const QString& typeId, const QPointF& scenePos)
{
    if (!model_) return {};
    NodeInfo n;
    n.typeId = typeId;
    n.pos = scenePos;
    QString id;
    undo_->push(new AddNodeCommand(model_, n, &id));
    if (id.isEmpty()) {
        showMessage(tr("Cannot add a node of type %1").arg(typeId), true);
        return {};
    }
    selectNodes({id});
    showMessage(tr("Added %1").arg(model_->node(id).name));
    updateActions();
    return id;
}

EditResult NodeEditor::connectPorts(const PortRef& from, const PortRef& to)
{
    if (!model_) return EditResult::failure(tr("No graph"));
    EditResult r;
    undo_->push(new ConnectCommand(model_, from, to, std::nullopt, &r));
    if (!r) showMessage(r.reason, true);
    return r;
}

void NodeEditor::deleteSelection()
{
    if (!model_) return;
    const QStringList nodes = scene_->selectedNodeIds();
    const QList<EdgeInfo> edges = scene_->selectedEdges();
    if (nodes.isEmpty() && edges.isEmpty()) return;
    undo_->push(new DeleteCommand(model_, nodes, edges));
    updateActions();
}

void NodeEditor::copySelection()
{
    const QStringList ids = scene_->selectedNodeIds();
    if (!model_ || ids.isEmpty()) return;
    QGuiApplication::clipboard()->setMimeData(clipMimeData(*model_, ids));
    pasteCount_ = 0;
    showMessage(ids.size() == 1 ? tr("Copied 1 node") : tr("Copied %1 nodes").arg(ids.size()));
}

void NodeEditor::cutSelection()
{
    const QStringList ids = scene_->selectedNodeIds();
    if (!model_ || ids.isEmpty()) return;
    QGuiApplication::clipboard()->setMimeData(clipMimeData(*model_, ids));
    pasteCount_ = -1;  // the first paste after a cut puts the nodes back where they were
    undo_->beginMacro(tr("Cut"));
    undo_->push(new DeleteCommand(model_, ids, {}));
    undo_->endMacro();
}

void NodeEditor::paste()
{
    const QMimeData* mime = QGuiApplication::clipboard()->mimeData();
    if (!model_ || !mime || !mime->hasFormat(QString::fromLatin1(kNodeMimeType))) return;
    ++pasteCount_;
    pasteClip(mime->data(QString::fromLatin1(kNodeMimeType)), QPointF(kPasteStep, kPasteStep) * pasteCount_, tr("Paste"));
}

void NodeEditor::duplicateSelection()
{
    const QStringList ids = scene_->selectedNodeIds();
    if (!model_ || ids.isEmpty()) return;
    pasteClip(clipToJson(*model_, ids), QPointF(kPasteStep, kPasteStep), tr("Duplicate"));
}

void NodeEditor::pasteClip(const QByteArray& json, const QPointF& offset, const QString& text)
{
    NodeClip clip = clipFromJson(json, *model_);
    if (!clip.skipped.isEmpty())
        showMessage(tr("Skipped nodes of unknown types: %1").arg(clip.skipped.join(QLatin1String(", "))), true);
    if (clip.isEmpty()) return;
    prepareForPaste(clip, *model_, offset);
    QStringList created;
    undo_->push(new PasteCommand(model_, clip.nodes, clip.edges, &created, text));
    selectNodes(created);
    view_->centerOnNodes(created);
    updateActions();
}

void NodeEditor::autoLayout()
{
    if (!model_ || model_->nodeIds().isEmpty()) return;
    const QStringList ids = model_->nodeIds();
    QHash<QString, QSizeF> sizes;
    QPointF origin(1e18, 1e18);
    for (const QString& id : ids) {
        if (NodeItem* n = scene_->nodeItem(id)) sizes.insert(id, n->size());
        const QPointF p = model_->node(id).pos;
        origin = QPointF(std::min(origin.x(), p.x()), std::min(origin.y(), p.y()));
    }
    // Columns leave room for the widest edge label, so shapes never hide under a node.
    qreal widestLabel = 0;
    for (const EdgeInfo& e : model_->edges())
        if (EdgeItem* item = scene_->edgeItem(e)) widestLabel = std::max(widestLabel, item->labelWidth());
    const QHash<QString, QPointF> placed =
        layeredLayout(ids, model_->edges(), sizes, origin, std::max<qreal>(80, widestLabel + 44));
    MoveCommand::Moves moves;
    for (auto it = placed.cbegin(); it != placed.cend(); ++it) {
        const QPointF from = model_->node(it.key()).pos;
        if (from != it.value()) moves.insert(it.key(), {from, it.value()});
    }
    if (!moves.isEmpty()) undo_->push(new MoveCommand(model_, moves, tr("Auto-layout")));
    fitToView();
}

void NodeEditor::fitToView() { view_->fitToNodes(); }

void NodeEditor::openNodeSearch(const QPoint& viewPos)
{
    if (!model_) return;
    searchScenePos_ = view_->mapToScene(viewPos) - QPointF(20, 14);  // the title lands under the cursor
    popup_->setNodeTypes(model_->nodeTypes());
    popup_->popup(view_->viewport()->mapToGlobal(viewPos));
}

void NodeEditor::changeEvent(QEvent* event)
{
    if (event->type() == QEvent::PaletteChange || event->type() == QEvent::StyleChange)
        scene_->setNodeStyle(NodeStyle::fromPalette(palette()));
    QWidget::changeEvent(event);
}

}  // namespace kiln::widgets
