#include "widgets/node_editor/node_palette.h"

#include "widgets/node_editor/node_clipboard.h"
#include "widgets/node_editor/node_style.h"

#include <QGuiApplication>
#include <QKeyEvent>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMimeData>
#include <QPainter>
#include <QScreen>
#include <QTreeWidget>
#include <QVBoxLayout>

#include <algorithm>

namespace kiln::widgets {

namespace {
constexpr int kTypeRole = Qt::UserRole + 1;

QIcon categoryIcon(const NodeTypeInfo& t)
{
    static const NodeStyle style;  // categoryColor needs no palette
    QPixmap pm(12, 12);
    pm.fill(Qt::transparent);
    QPainter p(&pm);
    p.setRenderHint(QPainter::Antialiasing);
    p.setPen(Qt::NoPen);
    p.setBrush(style.categoryColor(t.category, t.color));
    p.drawRoundedRect(QRectF(1, 1, 10, 10), 3, 3);
    return QIcon(pm);
}

QString tooltipFor(const NodeTypeInfo& t)
{
    QString tip = QStringLiteral("<b>%1</b> <span style='color:gray'>%2</span>").arg(t.displayName.toHtmlEscaped(), t.id);
    if (!t.help.isEmpty()) tip += QStringLiteral("<br>%1").arg(t.help.toHtmlEscaped());
    return tip;
}

// Dragging a type out of the palette carries its id; the canvas adds it where it lands.
class PaletteTree : public QTreeWidget {
public:
    using QTreeWidget::QTreeWidget;

protected:
    QMimeData* mimeData(const QList<QTreeWidgetItem*>& items) const override
    {
        if (items.isEmpty() || items.first()->data(0, kTypeRole).toString().isEmpty()) return nullptr;
        auto* mime = new QMimeData;
        mime->setData(QString::fromLatin1(kNodeTypeMimeType), items.first()->data(0, kTypeRole).toString().toUtf8());
        return mime;
    }
    QStringList mimeTypes() const override { return {QString::fromLatin1(kNodeTypeMimeType)}; }
};
}  // namespace

namespace {
// "li" should find Linear, not every category that happens to contain the letters (Pooling).
bool startsAWord(const QString& text, const QString& w)
{
    for (qsizetype i = text.indexOf(w, 0, Qt::CaseInsensitive); i >= 0; i = text.indexOf(w, i + 1, Qt::CaseInsensitive))
        if (i == 0 || !text[i - 1].isLetterOrNumber()) return true;
    return false;
}
}  // namespace

int searchScore(const NodeTypeInfo& t, const QString& query)
{
    const QStringList words = query.simplified().split(QLatin1Char(' '), Qt::SkipEmptyParts);
    if (words.isEmpty()) return 1;
    int score = 0;
    for (const QString& w : words) {
        int best = 0;
        if (t.displayName.startsWith(w, Qt::CaseInsensitive)) best = 100;
        else if (t.displayName.contains(w, Qt::CaseInsensitive)) best = 60;
        else if (startsAWord(t.id, w)) best = 40;
        else if (startsAWord(t.category, w)) best = 30;
        else {
            for (const QString& k : t.keywords)
                if (startsAWord(k, w)) best = std::max(best, 25);
            if (!best && startsAWord(t.help, w)) best = 5;
        }
        if (!best) return 0;
        score += best;
    }
    // Shorter names first among equals: "Linear" before "LinearAttention" for "lin".
    return score * 100 - std::min<int>(99, int(t.displayName.size()));
}

// ---------------------------------------------------------------- palette panel

NodePalette::NodePalette(QWidget* parent) : QWidget(parent)
{
    setObjectName(QStringLiteral("nodePalette"));
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 6);
    layout->setSpacing(6);
    auto* title = new QLabel(tr("Nodes"), this);
    QFont f = title->font();
    f.setBold(true);
    title->setFont(f);
    search_ = new QLineEdit(this);
    search_->setObjectName(QStringLiteral("paletteSearch"));
    search_->setPlaceholderText(tr("Search nodes…"));
    search_->setClearButtonEnabled(true);
    search_->installEventFilter(this);
    tree_ = new PaletteTree(this);
    tree_->setObjectName(QStringLiteral("paletteTree"));
    tree_->setHeaderHidden(true);
    tree_->setRootIsDecorated(true);
    tree_->setIndentation(12);
    tree_->setDragEnabled(true);
    tree_->setDragDropMode(QAbstractItemView::DragOnly);
    tree_->setUniformRowHeights(true);
    layout->addWidget(title);
    layout->addWidget(search_);
    layout->addWidget(tree_, 1);
    setMinimumWidth(170);

    connect(search_, &QLineEdit::textChanged, this, &NodePalette::refilter);
    connect(search_, &QLineEdit::returnPressed, this, &NodePalette::chooseCurrent);
    connect(tree_, &QTreeWidget::itemActivated, this, [this](QTreeWidgetItem* item) {
        const QString id = item->data(0, kTypeRole).toString();
        if (!id.isEmpty()) Q_EMIT nodeChosen(id);
    });
}

void NodePalette::setNodeTypes(const QList<NodeTypeInfo>& types)
{
    types_ = types;
    tree_->clear();
    QStringList categories;
    for (const NodeTypeInfo& t : types_)
        if (!categories.contains(t.category)) categories << t.category;  // the model's order
    for (const QString& c : categories) {
        auto* group = new QTreeWidgetItem(tree_, {c.isEmpty() ? tr("Other") : c});
        group->setFlags(Qt::ItemIsEnabled);
        QFont f = group->font(0);
        f.setBold(true);
        group->setFont(0, f);
        for (const NodeTypeInfo& t : types_) {
            if (t.category != c) continue;
            auto* item = new QTreeWidgetItem(group, {t.displayName});
            item->setData(0, kTypeRole, t.id);
            item->setIcon(0, categoryIcon(t));
            item->setToolTip(0, tooltipFor(t));
            item->setFlags(Qt::ItemIsEnabled | Qt::ItemIsSelectable | Qt::ItemIsDragEnabled);
        }
    }
    tree_->expandAll();
    refilter();
}

void NodePalette::refilter()
{
    const QString q = search_->text();
    QTreeWidgetItem* best = nullptr;
    int bestScore = 0;
    for (int g = 0; g < tree_->topLevelItemCount(); ++g) {
        QTreeWidgetItem* group = tree_->topLevelItem(g);
        int visible = 0;
        for (int i = 0; i < group->childCount(); ++i) {
            QTreeWidgetItem* item = group->child(i);
            const QString id = item->data(0, kTypeRole).toString();
            const auto it = std::find_if(types_.cbegin(), types_.cend(), [&](const NodeTypeInfo& t) { return t.id == id; });
            const int score = it == types_.cend() ? 0 : searchScore(*it, q);
            item->setHidden(score == 0);
            if (score > 0) ++visible;
            if (score > bestScore) bestScore = score, best = item;
        }
        group->setHidden(visible == 0);
        if (!q.isEmpty()) group->setExpanded(true);
    }
    // The best match is current, so Enter in the search box adds it.
    tree_->setCurrentItem(q.isEmpty() ? nullptr : best);
}

void NodePalette::chooseCurrent()
{
    QTreeWidgetItem* item = tree_->currentItem();
    if (!item || item->isHidden()) return;
    const QString id = item->data(0, kTypeRole).toString();
    if (!id.isEmpty()) Q_EMIT nodeChosen(id);
}

bool NodePalette::eventFilter(QObject* watched, QEvent* event)
{
    if (watched == search_ && event->type() == QEvent::KeyPress) {
        const int key = static_cast<QKeyEvent*>(event)->key();
        if (key == Qt::Key_Down || key == Qt::Key_Up) {
            QTreeWidgetItem* cur = tree_->currentItem();
            QTreeWidgetItem* next = cur ? (key == Qt::Key_Down ? tree_->itemBelow(cur) : tree_->itemAbove(cur))
                                        : tree_->topLevelItem(0);
            while (next && (next->isHidden() || next->data(0, kTypeRole).toString().isEmpty()))
                next = key == Qt::Key_Down ? tree_->itemBelow(next) : tree_->itemAbove(next);
            if (next) tree_->setCurrentItem(next);
            return true;
        }
    }
    return QWidget::eventFilter(watched, event);
}

// ---------------------------------------------------------------- canvas popup

NodeSearchPopup::NodeSearchPopup(QWidget* parent) : QFrame(parent, Qt::Popup)
{
    setObjectName(QStringLiteral("nodeSearchPopup"));
    setFrameShape(QFrame::StyledPanel);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->setSpacing(4);
    search_ = new QLineEdit(this);
    search_->setObjectName(QStringLiteral("nodeSearchBox"));
    search_->setPlaceholderText(tr("Add node…"));
    search_->installEventFilter(this);
    list_ = new QListWidget(this);
    list_->setObjectName(QStringLiteral("nodeSearchList"));
    list_->setUniformItemSizes(true);
    layout->addWidget(search_);
    layout->addWidget(list_);
    resize(280, 320);
    connect(search_, &QLineEdit::textChanged, this, &NodeSearchPopup::refilter);
    connect(search_, &QLineEdit::returnPressed, this, &NodeSearchPopup::chooseCurrent);
    connect(list_, &QListWidget::itemClicked, this, &NodeSearchPopup::chooseCurrent);
    connect(list_, &QListWidget::itemActivated, this, &NodeSearchPopup::chooseCurrent);
}

void NodeSearchPopup::popup(const QPoint& globalPos)
{
    search_->clear();
    refilter();
    QPoint at = globalPos;
    if (const QScreen* screen = QGuiApplication::screenAt(globalPos)) {
        // Stay on screen near the right and bottom edges.
        const QRect area = screen->availableGeometry();
        at.setX(std::min(at.x(), area.right() - width()));
        at.setY(std::min(at.y(), area.bottom() - height()));
    }
    move(at);
    show();
    search_->setFocus(Qt::PopupFocusReason);
}

void NodeSearchPopup::refilter()
{
    const QString q = search_->text();
    QList<QPair<int, const NodeTypeInfo*>> hits;
    for (const NodeTypeInfo& t : types_)
        if (const int s = searchScore(t, q)) hits.append({s, &t});
    if (!q.trimmed().isEmpty())
        std::stable_sort(hits.begin(), hits.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    list_->clear();
    for (const auto& [score, t] : hits) {
        auto* item = new QListWidgetItem(categoryIcon(*t), QStringLiteral("%1  ·  %2").arg(t->displayName, t->category),
                                         list_);
        item->setData(kTypeRole, t->id);
        item->setToolTip(tooltipFor(*t));
    }
    if (list_->count()) list_->setCurrentRow(0);
}

void NodeSearchPopup::chooseCurrent()
{
    QListWidgetItem* item = list_->currentItem();
    if (!item) return;
    const QString id = item->data(kTypeRole).toString();
    hide();
    Q_EMIT nodeChosen(id);
}

bool NodeSearchPopup::eventFilter(QObject* watched, QEvent* event)
{
    if (watched == search_ && event->type() == QEvent::KeyPress) {
        const int key = static_cast<QKeyEvent*>(event)->key();
        if (key == Qt::Key_Down || key == Qt::Key_Up) {
            const int row = list_->currentRow() + (key == Qt::Key_Down ? 1 : -1);
            if (row >= 0 && row < list_->count()) list_->setCurrentRow(row);
            return true;
        }
        if (key == Qt::Key_Escape) {
            hide();
            return true;
        }
    }
    return QFrame::eventFilter(watched, event);
}

}  // namespace kiln::widgets
