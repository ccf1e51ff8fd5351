// Where node types are found: a side panel (search box over a category tree, drag or
// double-click to add) and the popup that Tab or a double-click on the canvas opens.
#pragma once

#include "widgets/node_editor/node_graph_model.h"

#include <QFrame>
#include <QWidget>

class QLineEdit;
class QListWidget;
class QTreeWidget;

namespace kiln::widgets {

// 0: no match; higher is better. Every word of the query must match somewhere; a match at
// the start of the display name beats one in the category or keywords.
int searchScore(const NodeTypeInfo& type, const QString& query);

class NodePalette : public QWidget {
    Q_OBJECT
public:
    explicit NodePalette(QWidget* parent = nullptr);
    void setNodeTypes(const QList<NodeTypeInfo>& types);
    QLineEdit* searchBox() const { return search_; }
    QTreeWidget* tree() const { return tree_; }

Q_SIGNALS:
    void nodeChosen(const QString& typeId);

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    void refilter();
    void chooseCurrent();

    QList<NodeTypeInfo> types_;
    QLineEdit* search_;
    QTreeWidget* tree_;
};

class NodeSearchPopup : public QFrame {
    Q_OBJECT
public:
    explicit NodeSearchPopup(QWidget* parent = nullptr);
    void setNodeTypes(const QList<NodeTypeInfo>& types) { types_ = types; }
    void popup(const QPoint& globalPos);  // clears the query, shows every type
    QLineEdit* searchBox() const { return search_; }
    QListWidget* list() const { return list_; }

Q_SIGNALS:
    void nodeChosen(const QString& typeId);

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    void refilter();
    void chooseCurrent();

    QList<NodeTypeInfo> types_;
    QLineEdit* search_;
    QListWidget* list_;
};

}  // namespace kiln::widgets
