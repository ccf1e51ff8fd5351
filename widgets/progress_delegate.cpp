#include "widgets/progress_delegate.h"

#include <QApplication>
#include <QPainter>
#include <QStyleOptionProgressBar>

namespace kiln::widgets {

ProgressDelegate::ProgressDelegate(int valueRole, QObject* parent) : QStyledItemDelegate(parent), role_(valueRole) {}

void ProgressDelegate::paint(QPainter* painter, const QStyleOptionViewItem& option, const QModelIndex& index) const
{
    const QVariant v = index.data(role_);
    if (!v.isValid()) {
        QStyledItemDelegate::paint(painter, option, index);
        return;
    }
    const double value = v.toDouble();
    QStyleOptionProgressBar bar;
    bar.rect = option.rect.adjusted(2, 3, -2, -3);
    bar.minimum = 0;
    bar.maximum = 1000;
    bar.progress = value < 0 ? 0 : static_cast<int>(value * 1000);
    bar.text = value < 0 ? QString() : QStringLiteral("%1%").arg(static_cast<int>(value * 100));
    bar.textVisible = true;
    bar.state = option.state | QStyle::State_Horizontal;
    bar.palette = option.palette;
    const QWidget* w = option.widget;
    (w ? w->style() : QApplication::style())->drawControl(QStyle::CE_ProgressBar, &bar, painter, w);
}

}  // namespace kiln::widgets
