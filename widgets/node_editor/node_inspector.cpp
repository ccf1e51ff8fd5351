#include "widgets/node_editor/node_inspector.h"

#include <QCheckBox>
#include <QComboBox>
#include <QEvent>
#include <QFontDatabase>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QScrollArea>
#include <QSpinBox>
#include <QVBoxLayout>

#include <climits>

namespace kiln::widgets {

namespace {
QString rangeHint(const ParamSpec& spec)
{
    if (spec.type == ParamSpec::Type::Choice) return QObject::tr("One of: %1").arg(spec.choices.join(QLatin1String(", ")));
    if (spec.type == ParamSpec::Type::IntList) {
        const QString r = spec.min.isValid() || spec.max.isValid()
                              ? QObject::tr(" (each %1 – %2)").arg(spec.min.isValid() ? spec.min.toString() : QStringLiteral("…"),
                                                                  spec.max.isValid() ? spec.max.toString() : QStringLiteral("…"))
                              : QString();
        return QObject::tr("Whole numbers separated by commas%1").arg(r);
    }
    if (!spec.min.isValid() && !spec.max.isValid()) return {};
    return QObject::tr("Range %1 – %2").arg(spec.min.isValid() ? spec.min.toString() : QStringLiteral("…"),
                                           spec.max.isValid() ? spec.max.toString() : QStringLiteral("…"));
}

QLabel* wrappingLabel(QWidget* parent, const QString& objectName)
{
    auto* l = new QLabel(parent);
    l->setObjectName(objectName);
    l->setWordWrap(true);
    l->setTextInteractionFlags(Qt::TextSelectableByMouse);
    return l;
}
}  // namespace

NodeInspector::NodeInspector(QWidget* parent) : QWidget(parent)
{
    setObjectName(QStringLiteral("nodeInspector"));
    setMinimumWidth(220);
    auto* outer = new QVBoxLayout(this);
    outer->setContentsMargins(0, 0, 0, 0);
    auto* scroll = new QScrollArea(this);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    outer->addWidget(scroll);

    auto* page = new QWidget;
    auto* layout = new QVBoxLayout(page);
    layout->setContentsMargins(10, 8, 10, 8);
    layout->setSpacing(6);
    scroll->setWidget(page);

    empty_ = new QLabel(tr("Select a node to edit its name and parameters."), page);
    empty_->setObjectName(QStringLiteral("inspectorEmpty"));
    empty_->setWordWrap(true);
    empty_->setAlignment(Qt::AlignCenter);
    layout->addWidget(empty_);

    body_ = new QWidget(page);
    auto* bodyLayout = new QVBoxLayout(body_);
    bodyLayout->setContentsMargins(0, 0, 0, 0);
    bodyLayout->setSpacing(6);
    title_ = new QLabel(body_);
    title_->setObjectName(QStringLiteral("inspectorTitle"));
    QFont tf = title_->font();
    tf.setBold(true);
    tf.setPointSizeF(tf.pointSizeF() * 1.15);
    title_->setFont(tf);
    typeLabel_ = new QLabel(body_);
    name_ = new QLineEdit(body_);
    name_->setObjectName(QStringLiteral("inspectorName"));
    form_ = new QWidget(body_);
    formLayout_ = new QFormLayout(form_);
    formLayout_->setContentsMargins(0, 4, 0, 4);
    formLayout_->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    formLayout_->setLabelAlignment(Qt::AlignRight | Qt::AlignVCenter);
    subtitle_ = wrappingLabel(body_, QStringLiteral("inspectorSubtitle"));
    subtitle_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    message_ = wrappingLabel(body_, QStringLiteral("inspectorMessage"));
    message_->setStyleSheet(QStringLiteral("color: #e0544a;"));
    problem_ = wrappingLabel(body_, QStringLiteral("inspectorProblem"));
    problem_->setStyleSheet(QStringLiteral("color: #d9822b;"));
    help_ = wrappingLabel(body_, QStringLiteral("inspectorHelp"));

    formLayout_->addRow(tr("Name"), name_);  // row 0; parameter rows follow and are rebuilt
    bodyLayout->addWidget(title_);
    bodyLayout->addWidget(typeLabel_);
    bodyLayout->addWidget(form_);
    bodyLayout->addWidget(subtitle_);
    bodyLayout->addWidget(message_);
    bodyLayout->addWidget(problem_);
    bodyLayout->addWidget(help_);
    layout->addWidget(body_);
    layout->addStretch(1);

    applyMutedColours();
    connect(name_, &QLineEdit::editingFinished, this, [this] {
        if (model_ && !id_.isEmpty() && name_->text() != model_->node(id_).name)
            Q_EMIT renameRequested(id_, name_->text());
    });
    setNodes({});
}

void NodeInspector::applyMutedColours()
{
    // Secondary text: between the text and the window colour, readable on both themes
    // (disabled text, the usual shortcut, is too faint on the light one).
    const QPalette p = palette();
    const QColor a = p.color(QPalette::WindowText), b = p.color(QPalette::Window);
    const QColor muted = QColor::fromRgbF(a.redF() * 0.6 + b.redF() * 0.4, a.greenF() * 0.6 + b.greenF() * 0.4,
                                          a.blueF() * 0.6 + b.blueF() * 0.4);
    for (QLabel* l : {empty_, typeLabel_, help_}) {
        QPalette lp = l->palette();
        lp.setColor(QPalette::WindowText, muted);
        l->setPalette(lp);
    }
}

void NodeInspector::changeEvent(QEvent* event)
{
    if (event->type() == QEvent::PaletteChange) applyMutedColours();
    QWidget::changeEvent(event);
}

void NodeInspector::setModel(NodeGraphModel* model)
{
    for (const auto& c : std::as_const(connections_)) disconnect(c);
    connections_.clear();
    model_ = model;
    if (model_) {
        connections_ << connect(model_, &NodeGraphModel::nodeChanged, this, [this](const QString& id) {
            if (id == id_) refresh();
        });
        connections_ << connect(model_, &NodeGraphModel::nodeAnnotationChanged, this, [this](const QString& id) {
            if (id == id_) refreshAnnotation();
        });
        connections_ << connect(model_, &NodeGraphModel::annotationsChanged, this, &NodeInspector::refreshAnnotation);
        connections_ << connect(model_, &NodeGraphModel::nodeRemoved, this, [this](const QString& id) {
            if (id == id_) setNodes({});
        });
    }
    setNodes({});
}

void NodeInspector::setNodes(const QStringList& ids)
{
    // Commit a half-typed value to the node it was typed for, before switching away.
    if (QWidget* f = focusWidget(); f && isAncestorOf(f)) f->clearFocus();
    selectionSize_ = int(ids.size());
    id_ = ids.size() == 1 ? ids.first() : QString();
    problem_->clear();
    refresh();
}

void NodeInspector::refresh()
{
    const NodeInfo node = model_ && !id_.isEmpty() ? model_->node(id_) : NodeInfo{};
    if (!node.isValid()) {
        id_.clear();
        body_->hide();
        empty_->setText(selectionSize_ > 1 ? tr("%1 nodes selected.").arg(selectionSize_)
                                           : tr("Select a node to edit its name and parameters."));
        empty_->show();
        return;
    }
    empty_->hide();
    body_->show();
    const NodeTypeInfo type = model_->nodeType(node.typeId);
    if (type.id != builtType_) {
        builtType_ = type.id;
        rebuild();
    }
    title_->setText(type.displayName.isEmpty() ? node.typeId : type.displayName);
    typeLabel_->setText(type.category.isEmpty() ? type.id : QStringLiteral("%1 · %2").arg(type.category, type.id));
    name_->setText(node.name);
    for (const ParamSpec& spec : type.params)
        if (QWidget* e = editors_.value(spec.name)) setEditorValue(spec, e, node.params.value(spec.name, spec.defaultValue));
    help_->setText(type.help);
    help_->setVisible(!type.help.isEmpty());
    problem_->setVisible(!problem_->text().isEmpty());
    refreshAnnotation();
}

void NodeInspector::refreshAnnotation()
{
    if (!model_ || id_.isEmpty()) return;
    const NodeAnnotation a = model_->nodeAnnotation(id_);
    subtitle_->setText(a.subtitle);
    subtitle_->setVisible(!a.subtitle.isEmpty());
    const bool error = a.state == NodeState::Error;
    message_->setText(error ? (a.message.isEmpty() ? tr("This node has an error.") : a.message) : QString());
    message_->setVisible(error);
}

void NodeInspector::showProblem(const QString& text)
{
    problem_->setText(text);
    problem_->setVisible(!text.isEmpty());
}

void NodeInspector::rebuild()
{
    editors_.clear();
    while (formLayout_->rowCount() > 1) formLayout_->removeRow(1);  // deletes the row's widgets
    const NodeTypeInfo type = model_->nodeType(builtType_);
    for (const ParamSpec& spec : type.params) {
        QWidget* editor = makeEditor(spec);
        editor->setObjectName(QStringLiteral("param_%1").arg(spec.name));
        const QString hint = rangeHint(spec);
        QString tip = spec.help;
        if (!hint.isEmpty()) tip += (tip.isEmpty() ? QString() : QStringLiteral("\n")) + hint;
        editor->setToolTip(tip);
        auto* label = new QLabel(spec.name, form_);
        label->setToolTip(tip);
        formLayout_->addRow(label, editor);
        editors_.insert(spec.name, editor);
    }
}

QWidget* NodeInspector::makeEditor(const ParamSpec& spec)
{
    const QString name = spec.name;
    auto edited = [this, name](const QVariant& v) {
        if (!id_.isEmpty()) Q_EMIT parameterEdited(id_, name, v);
    };
    // Text editors commit on Enter or focus loss, and only when the text differs from the
    // model's value, so leaving a field untouched never makes an undo step.
    auto textCommit = [this, spec, edited](QLineEdit* e) {
        connect(e, &QLineEdit::editingFinished, this, [this, spec, e, edited] {
            if (!model_ || id_.isEmpty()) return;
            const QVariant current = model_->node(id_).params.value(spec.name);
            if (e->text() != formatParameter(spec, current)) edited(e->text());
        });
    };
    switch (spec.type) {
    case ParamSpec::Type::Int: {
        auto* box = new QSpinBox(form_);
        box->setRange(spec.min.isValid() ? spec.min.toInt() : INT_MIN + 1, spec.max.isValid() ? spec.max.toInt() : INT_MAX);
        box->setKeyboardTracking(false);  // one edit per Enter, not one per digit typed
        box->setAccelerated(true);
        connect(box, &QSpinBox::valueChanged, this, [edited](int v) { edited(v); });
        return box;
    }
    case ParamSpec::Type::Bool: {
        auto* box = new QCheckBox(form_);
        connect(box, &QCheckBox::toggled, this, [edited](bool v) { edited(v); });
        return box;
    }
    case ParamSpec::Type::Choice: {
        auto* box = new QComboBox(form_);
        box->addItems(spec.choices);
        connect(box, &QComboBox::activated, this, [box, edited](int i) { edited(box->itemText(i)); });
        return box;
    }
    case ParamSpec::Type::Float:
    case ParamSpec::Type::String:
    case ParamSpec::Type::IntList: {
        auto* e = new QLineEdit(form_);
        if (spec.type == ParamSpec::Type::IntList) e->setPlaceholderText(QStringLiteral("e.g. 3, 3"));
        textCommit(e);
        return e;
    }
    }
    return new QWidget(form_);
}

void NodeInspector::setEditorValue(const ParamSpec& spec, QWidget* editor, const QVariant& value)
{
    const QSignalBlocker block(editor);  // showing the model's value is not an edit
    switch (spec.type) {
    case ParamSpec::Type::Int: static_cast<QSpinBox*>(editor)->setValue(value.toInt()); break;
    case ParamSpec::Type::Bool: static_cast<QCheckBox*>(editor)->setChecked(value.toBool()); break;
    case ParamSpec::Type::Choice: static_cast<QComboBox*>(editor)->setCurrentText(value.toString()); break;
    default: {
        // Also after a refused edit: the field goes back to what the model holds.
        static_cast<QLineEdit*>(editor)->setText(formatParameter(spec, value));
        break;
    }
    }
}

}  // namespace kiln::widgets
