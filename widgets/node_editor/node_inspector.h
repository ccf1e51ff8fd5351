// The selected node's name and parameters, one editor per schema entry. It only asks for
// edits (signals); the editor turns them into undoable commands and the model's answer
// comes back through refresh(), so undo updates these fields too.
#pragma once

#include "widgets/node_editor/node_graph_model.h"

#include <QHash>
#include <QPointer>
#include <QWidget>

class QFormLayout;
class QLabel;
class QLineEdit;

namespace kiln::widgets {

class NodeInspector : public QWidget {
    Q_OBJECT
public:
    explicit NodeInspector(QWidget* parent = nullptr);
    void setModel(NodeGraphModel* model);
    void setNodes(const QStringList& ids);  // the selection; one node gets editors
    QString nodeId() const { return id_; }
    void refresh();                          // re-read the node from the model
    void showProblem(const QString& text);   // a refused edit, until the next refresh
    QWidget* editorFor(const QString& param) const { return editors_.value(param); }

Q_SIGNALS:
    void renameRequested(const QString& id, const QString& name);
    void parameterEdited(const QString& id, const QString& param, const QVariant& value);

protected:
    void changeEvent(QEvent* event) override;

private:
    void applyMutedColours();
    void rebuild();
    QWidget* makeEditor(const ParamSpec& spec);
    void setEditorValue(const ParamSpec& spec, QWidget* editor, const QVariant& value);
    void refreshAnnotation();

    QPointer<NodeGraphModel> model_;
    QString id_;
    QString builtType_;
    int selectionSize_ = 0;
    QLabel* title_;
    QLabel* typeLabel_;
    QLineEdit* name_;
    QWidget* form_;
    QFormLayout* formLayout_;
    QLabel* subtitle_;
    QLabel* message_;
    QLabel* problem_;
    QLabel* help_;
    QLabel* empty_;
    QWidget* body_;
    QHash<QString, QWidget*> editors_;
    QList<QMetaObject::Connection> connections_;
};

}  // namespace kiln::widgets
