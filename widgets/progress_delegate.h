// Draws a progress bar in a view cell from a 0..1 value (negative: indeterminate, drawn empty).
#pragma once

#include <QStyledItemDelegate>

namespace kiln::widgets {

class ProgressDelegate : public QStyledItemDelegate {
    Q_OBJECT
public:
    explicit ProgressDelegate(int valueRole, QObject* parent = nullptr);
    void paint(QPainter* painter, const QStyleOptionViewItem& option, const QModelIndex& index) const override;

private:
    int role_;
};

}  // namespace kiln::widgets
