#include "panels/evaluation_view.h"

#include <QColor>
#include <QImage>
#include <QLabel>
#include <QPixmap>
#include <QTableWidget>
#include <algorithm>
#include <cmath>

namespace kiln::app {

namespace {
const char* const kFashionClasses[] = {"T-shirt", "Trouser", "Pullover", "Dress", "Coat",
                                       "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
}

void showConfusion(QTableWidget* table, const kiln::train::Evaluation& v, const std::vector<std::string>& classNames)
{
    if (v.numClasses <= 0 || v.confusion.size() != static_cast<std::size_t>(v.numClasses * v.numClasses)) return;
    const int n = v.numClasses;
    table->setRowCount(n);
    table->setColumnCount(n + 1);
    QStringList names;
    for (int i = 0; i < n; ++i)
        names << (static_cast<int>(classNames.size()) == n ? QString::fromStdString(classNames[static_cast<std::size_t>(i)])
                  : n == 10                               ? QString::fromLatin1(kFashionClasses[i])
                                                          : QString::number(i));
    table->setVerticalHeaderLabels(names);
    table->setHorizontalHeaderLabels(names + QStringList{QObject::tr("accuracy")});
    std::int64_t peak = 1;
    for (auto c : v.confusion) peak = std::max(peak, c);
    for (int row = 0; row < n; ++row) {
        for (int col = 0; col < n; ++col) {
            const auto count = v.confusion[static_cast<std::size_t>(row * n + col)];
            auto* item = new QTableWidgetItem(QString::number(count));
            const double t = std::sqrt(static_cast<double>(count) / static_cast<double>(peak));
            item->setBackground(row == col ? QColor::fromRgbF(0.2, 0.6, 0.3, 0.15 + 0.7 * t)
                                           : QColor::fromRgbF(0.85, 0.3, 0.2, 0.8 * t));
            item->setTextAlignment(Qt::AlignCenter);
            table->setItem(row, col, item);
        }
        const double acc = row < static_cast<int>(v.perClassAccuracy.size()) ? v.perClassAccuracy[static_cast<std::size_t>(row)] : NAN;
        table->setItem(row, n, new QTableWidgetItem(std::isnan(acc) ? QStringLiteral("–") : QStringLiteral("%1%").arg(acc * 100, 0, 'f', 1)));
    }
}

void showPreview(QLabel* label, const kiln::Preview& p)
{
    if (p.width <= 0) return;
    QImage img(p.rgba.data(), p.width, p.height, QImage::Format_RGBA8888);
    label->setPixmap(QPixmap::fromImage(img.copy()).scaled(label->size().boundedTo(QSize(640, 640)), Qt::KeepAspectRatio,
                                                           Qt::SmoothTransformation));
}

}  // namespace kiln::app
