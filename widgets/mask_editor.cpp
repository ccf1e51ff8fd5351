#include "widgets/mask_editor.h"

#include <QHBoxLayout>
#include <QKeyEvent>
#include <QLabel>
#include <QMouseEvent>
#include <QPainter>
#include <QSpinBox>
#include <QToolButton>
#include <QVBoxLayout>
#include <QWheelEvent>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace kiln::widgets {

namespace {

constexpr int kHistoryLimit = 50;
constexpr qsizetype kHistoryBytes = qsizetype(256) << 20;  // masks are image-sized: fewer steps for huge images
const QColor kOverlay(255, 40, 90);
constexpr int kOverlayAlpha = 140;

// Squared distance from p to the segment ab.
double distanceSquared(const QPointF& p, const QPointF& a, const QPointF& b)
{
    const QPointF ab = b - a;
    const double len2 = QPointF::dotProduct(ab, ab);
    double t = len2 > 0 ? QPointF::dotProduct(p - a, ab) / len2 : 0;
    t = std::clamp(t, 0.0, 1.0);
    const QPointF d = p - (a + t * ab);
    return QPointF::dotProduct(d, d);
}

}  // namespace

QImage flattenOntoWhite(const QImage& image)
{
    if (image.isNull()) return {};
    if (!image.hasAlphaChannel()) return image.convertToFormat(QImage::Format_RGB32);
    // Straight (not premultiplied) alpha: out = c * a + 255 * (1 - a), rounded, per channel.
    const QImage argb = image.convertToFormat(QImage::Format_ARGB32);
    QImage out(argb.size(), QImage::Format_RGB32);
    if (out.isNull()) return {};
    auto blend = [](int c, int a) { return (c * a + 255 * (255 - a) + 127) / 255; };
    for (int y = 0; y < argb.height(); ++y) {
        const auto* in = reinterpret_cast<const QRgb*>(argb.constScanLine(y));
        auto* o = reinterpret_cast<QRgb*>(out.scanLine(y));
        for (int x = 0; x < argb.width(); ++x) {
            const int a = qAlpha(in[x]);
            o[x] = qRgb(blend(qRed(in[x]), a), blend(qGreen(in[x]), a), blend(qBlue(in[x]), a));
        }
    }
    return out;
}

QImage maskFromImage(const QImage& mask)
{
    if (mask.isNull()) return {};
    if (!mask.hasAlphaChannel()) return mask.convertToFormat(QImage::Format_Grayscale8);
    const QImage argb = mask.convertToFormat(QImage::Format_ARGB32);
    QImage alpha(argb.size(), QImage::Format_Grayscale8);
    if (alpha.isNull()) return {};
    int lo = 255, hi = 0;
    for (int y = 0; y < argb.height(); ++y) {
        const auto* in = reinterpret_cast<const QRgb*>(argb.constScanLine(y));
        uchar* o = alpha.scanLine(y);
        for (int x = 0; x < argb.width(); ++x) {
            o[x] = uchar(qAlpha(in[x]));
            lo = std::min<int>(lo, o[x]);
            hi = std::max<int>(hi, o[x]);
        }
    }
    if (lo != hi) return alpha;
    // A flat alpha (an opaque black-and-white mask saved with an alpha channel): the grey levels are the mask.
    return argb.convertToFormat(QImage::Format_RGB32).convertToFormat(QImage::Format_Grayscale8);
}

MaskCanvas::MaskCanvas(QWidget* parent) : QWidget(parent)
{
    setMouseTracking(true);
    setFocusPolicy(Qt::StrongFocus);
    setMinimumSize(160, 160);
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
    setCursor(Qt::CrossCursor);
}

void MaskCanvas::setImage(const QImage& image)
{
    image_ = flattenOntoWhite(image);
    scaled_ = QPixmap();
    if (image_.isNull()) {
        mask_ = overlay_ = QImage();
    } else {
        mask_ = QImage(image_.size(), QImage::Format_Grayscale8);
        mask_.fill(0);
        overlay_ = QImage(image_.size(), QImage::Format_ARGB32_Premultiplied);
        overlay_.fill(Qt::transparent);
    }
    undo_.clear();
    redo_.clear();
    stroke_ = Qt::NoButton;
    Q_EMIT historyChanged();
    Q_EMIT maskChanged();
    update();
}

void MaskCanvas::setMask(const QImage& mask)
{
    if (image_.isNull() || mask.isNull()) return;
    QImage grey = maskFromImage(mask);
    if (grey.size() != image_.size()) grey = grey.scaled(image_.size(), Qt::IgnoreAspectRatio, Qt::FastTransformation);
    if (grey.isNull()) return;  // out of memory: the mask stays as it was
    pushHistory();
    mask_ = grey;
    wholeMaskChanged();
}

bool MaskCanvas::maskIsEmpty() const
{
    for (int y = 0; y < mask_.height(); ++y) {
        const uchar* row = mask_.constScanLine(y);
        if (std::any_of(row, row + mask_.width(), [](uchar v) { return v != 0; })) return false;
    }
    return true;
}

void MaskCanvas::setBrushSize(int diameter)
{
    diameter = std::clamp(diameter, minBrush, maxBrush);
    if (diameter == brush_) return;
    brush_ = diameter;
    Q_EMIT brushSizeChanged(brush_);
    update();
}

void MaskCanvas::setEditable(bool editable)
{
    editable_ = editable;
    stroke_ = Qt::NoButton;
    setCursor(editable ? Qt::CrossCursor : Qt::ArrowCursor);
    update();
}

void MaskCanvas::setPlaceholderText(const QString& text)
{
    placeholder_ = text;
    update();
}

void MaskCanvas::pushHistory()
{
    undo_.append(mask_);
    const qsizetype limit = std::clamp<qsizetype>(kHistoryBytes / std::max<qsizetype>(1, mask_.sizeInBytes()), 1,
                                                  kHistoryLimit);
    while (undo_.size() > limit) undo_.removeFirst();
    redo_.clear();
    Q_EMIT historyChanged();
}

void MaskCanvas::clear()
{
    if (image_.isNull() || maskIsEmpty()) return;
    pushHistory();
    mask_.fill(0);
    wholeMaskChanged();
}

void MaskCanvas::invert()
{
    if (image_.isNull()) return;
    pushHistory();
    mask_.invertPixels();
    wholeMaskChanged();
}

void MaskCanvas::undo() { stepHistory(undo_, redo_); }

void MaskCanvas::redo() { stepHistory(redo_, undo_); }

void MaskCanvas::stepHistory(QVector<QImage>& from, QVector<QImage>& to)
{
    if (from.isEmpty()) return;
    to.append(mask_);
    mask_ = from.takeLast();
    Q_EMIT historyChanged();
    wholeMaskChanged();
}

void MaskCanvas::wholeMaskChanged()
{
    rebuildOverlay(mask_.rect());
    Q_EMIT maskChanged();
    update();
}

QRectF MaskCanvas::imageRect() const
{
    if (image_.isNull()) return {};
    const QSizeF fitted = QSizeF(image_.size()).scaled(QSizeF(size()), Qt::KeepAspectRatio);
    return QRectF(QPointF((width() - fitted.width()) / 2, (height() - fitted.height()) / 2), fitted);
}

QPointF MaskCanvas::toImage(const QPointF& widgetPos) const
{
    const QRectF r = imageRect();
    if (r.isEmpty()) return {};
    const double scale = r.width() / image_.width();
    return (widgetPos - r.topLeft()) / scale;
}

QPointF MaskCanvas::toWidget(const QPointF& imagePos) const
{
    const QRectF r = imageRect();
    if (r.isEmpty()) return {};
    const double scale = r.width() / image_.width();
    return r.topLeft() + imagePos * scale;
}

// Every pixel whose centre lies within brush/2 of the segment ab takes `value`: the stroke between two mouse
// positions is a capsule, however far apart they are.
void MaskCanvas::stamp(const QPointF& a, const QPointF& b, uchar value)
{
    const double r = brush_ / 2.0;
    const double r2 = r * r;
    const QRect box = QRectF(QPointF(std::min(a.x(), b.x()) - r, std::min(a.y(), b.y()) - r),
                             QPointF(std::max(a.x(), b.x()) + r, std::max(a.y(), b.y()) + r))
                          .toAlignedRect()
                          .intersected(mask_.rect());
    if (box.isEmpty()) return;
    for (int y = box.top(); y <= box.bottom(); ++y) {
        uchar* row = mask_.scanLine(y);
        for (int x = box.left(); x <= box.right(); ++x)
            if (distanceSquared(QPointF(x + 0.5, y + 0.5), a, b) <= r2) row[x] = value;
    }
    rebuildOverlay(box);
    Q_EMIT maskChanged();
    const QRectF shown(toWidget(box.topLeft()), toWidget(box.bottomRight() + QPoint(1, 1)));
    update(shown.toAlignedRect().adjusted(-2, -2, 2, 2));
}

void MaskCanvas::rebuildOverlay(const QRect& area)
{
    const QRect box = area.intersected(mask_.rect());
    for (int y = box.top(); y <= box.bottom(); ++y) {
        const uchar* m = mask_.constScanLine(y);
        auto* out = reinterpret_cast<QRgb*>(overlay_.scanLine(y));
        for (int x = box.left(); x <= box.right(); ++x) {
            const int a = m[x] * kOverlayAlpha / 255;
            out[x] = qRgba(kOverlay.red() * a / 255, kOverlay.green() * a / 255, kOverlay.blue() * a / 255, a);
        }
    }
}

void MaskCanvas::paintEvent(QPaintEvent*)
{
    QPainter p(this);
    p.fillRect(rect(), palette().color(QPalette::Base));
    if (image_.isNull()) {
        p.setPen(palette().color(QPalette::PlaceholderText));
        p.drawText(rect().adjusted(8, 8, -8, -8), Qt::AlignCenter | Qt::TextWordWrap, placeholder_);
        return;
    }
    const QRectF r = imageRect();
    // Scaled once per size, not on every stroke's repaint: a photo of many megapixels rescaled at each mouse move
    // would make the brush lag.
    if (scaled_.size() != r.size().toSize()) scaled_ = QPixmap::fromImage(image_.scaled(r.size().toSize(),
                                                       Qt::IgnoreAspectRatio, Qt::SmoothTransformation));
    p.drawPixmap(r.topLeft(), scaled_);
    p.setRenderHint(QPainter::SmoothPixmapTransform);
    if (!editable_) return;
    p.drawImage(r, overlay_);
    if (hovering_) {
        const double radius = brush_ / 2.0 * r.width() / image_.width();
        p.setRenderHint(QPainter::Antialiasing);
        p.setBrush(Qt::NoBrush);
        // Two rings, dark and light, so the outline shows on any image.
        p.setPen(QPen(QColor(0, 0, 0, 200), 1));
        p.drawEllipse(hover_, radius + 1, radius + 1);
        p.setPen(QPen(QColor(255, 255, 255, 230), 1));
        p.drawEllipse(hover_, radius, radius);
    }
}

void MaskCanvas::mousePressEvent(QMouseEvent* e)
{
    if (!editable_ || image_.isNull() || stroke_ != Qt::NoButton ||
        (e->button() != Qt::LeftButton && e->button() != Qt::RightButton)) {
        QWidget::mousePressEvent(e);
        return;
    }
    setFocus(Qt::MouseFocusReason);
    pushHistory();
    stroke_ = e->button();
    last_ = toImage(e->position());
    stamp(last_, last_, stroke_ == Qt::LeftButton ? 255 : 0);
    e->accept();
}

QRect MaskCanvas::cursorRect() const
{
    const QRectF r = imageRect();
    const double radius = r.isEmpty() ? 0 : brush_ / 2.0 * r.width() / image_.width() + 3;
    return QRectF(hover_ - QPointF(radius, radius), hover_ + QPointF(radius, radius)).toAlignedRect();
}

void MaskCanvas::mouseMoveEvent(QMouseEvent* e)
{
    if (hovering_) update(cursorRect());
    hover_ = e->position();
    hovering_ = true;
    if (stroke_ != Qt::NoButton) {
        const QPointF next = toImage(e->position());
        stamp(last_, next, stroke_ == Qt::LeftButton ? 255 : 0);
        last_ = next;
    }
    update(cursorRect());
}

void MaskCanvas::mouseReleaseEvent(QMouseEvent* e)
{
    if (stroke_ == Qt::NoButton || e->button() != stroke_) {
        QWidget::mouseReleaseEvent(e);
        return;
    }
    const QPointF next = toImage(e->position());
    stamp(last_, next, stroke_ == Qt::LeftButton ? 255 : 0);
    stroke_ = Qt::NoButton;
}

void MaskCanvas::wheelEvent(QWheelEvent* e)
{
    if (!editable_ || !(e->modifiers() & Qt::ControlModifier) || e->angleDelta().y() == 0) {
        e->ignore();  // a plain wheel scrolls whatever holds the canvas
        return;
    }
    // About 15% a notch, at least one pixel, so small and large brushes both change at a usable pace.
    const int notches = e->angleDelta().y() / 120 != 0 ? e->angleDelta().y() / 120 : (e->angleDelta().y() > 0 ? 1 : -1);
    int size = brush_;
    for (int i = 0; i < std::abs(notches); ++i)
        size = notches > 0 ? std::max(size + 1, static_cast<int>(std::lround(size * 1.15)))
                           : std::min(size - 1, static_cast<int>(std::lround(size / 1.15)));
    setBrushSize(size);
    e->accept();
}

void MaskCanvas::keyPressEvent(QKeyEvent* e)
{
    const QKeyCombination combo = e->keyCombination();
    if (e->matches(QKeySequence::Undo)) undo();
    else if (e->matches(QKeySequence::Redo) ||
             combo == QKeyCombination(Qt::ControlModifier | Qt::ShiftModifier, Qt::Key_Z))
        redo();
    else {
        QWidget::keyPressEvent(e);
        return;
    }
    e->accept();
}

void MaskCanvas::leaveEvent(QEvent* e)
{
    hovering_ = false;
    update(cursorRect());
    QWidget::leaveEvent(e);
}

MaskEditor::MaskEditor(QWidget* parent) : QWidget(parent)
{
    canvas_ = new MaskCanvas(this);
    canvas_->setObjectName(QStringLiteral("maskCanvas"));
    tools_ = new QWidget(this);
    brush_ = new QSpinBox(tools_);
    brush_->setObjectName(QStringLiteral("maskBrushSpin"));
    brush_->setRange(MaskCanvas::minBrush, MaskCanvas::maxBrush);
    brush_->setValue(canvas_->brushSize());
    brush_->setSuffix(tr(" px"));
    brush_->setToolTip(tr("Brush diameter in image pixels (Ctrl+wheel over the image)"));
    auto makeButton = [this](const QString& text, const QString& tip, const char* name) {
        auto* b = new QToolButton(tools_);
        b->setText(text);
        b->setToolTip(tip);
        b->setObjectName(QLatin1String(name));
        return b;
    };
    auto* clear = makeButton(tr("Clear"), tr("Erase the whole mask"), "maskClearButton");
    auto* invert = makeButton(tr("Invert"), tr("Repaint what is kept and keep what is repainted"), "maskInvertButton");
    undo_ = makeButton(tr("Undo"), tr("Undo the last stroke (Ctrl+Z)"), "maskUndoButton");
    redo_ = makeButton(tr("Redo"), tr("Redo (Ctrl+Shift+Z)"), "maskRedoButton");
    auto* row = new QHBoxLayout(tools_);
    row->setContentsMargins(0, 0, 0, 0);
    row->addWidget(new QLabel(tr("Brush:"), tools_));
    row->addWidget(brush_);
    row->addWidget(clear);
    row->addWidget(invert);
    row->addWidget(undo_);
    row->addWidget(redo_);
    row->addStretch();
    canvas_->setToolTip(tr("Left button paints the area to repaint, right button erases; Ctrl+wheel sizes the brush."));
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(tools_);
    layout->addWidget(canvas_, 1);

    connect(brush_, &QSpinBox::valueChanged, canvas_, &MaskCanvas::setBrushSize);
    connect(canvas_, &MaskCanvas::brushSizeChanged, brush_, &QSpinBox::setValue);
    connect(clear, &QToolButton::clicked, canvas_, &MaskCanvas::clear);
    connect(invert, &QToolButton::clicked, canvas_, &MaskCanvas::invert);
    connect(undo_, &QToolButton::clicked, canvas_, &MaskCanvas::undo);
    connect(redo_, &QToolButton::clicked, canvas_, &MaskCanvas::redo);
    connect(canvas_, &MaskCanvas::historyChanged, this, &MaskEditor::updateTools);
    updateTools();
}

void MaskEditor::setToolsVisible(bool visible)
{
    tools_->setVisible(visible);
    canvas_->setEditable(visible);
}

void MaskEditor::updateTools()
{
    undo_->setEnabled(canvas_->canUndo());
    redo_->setEnabled(canvas_->canRedo());
}

}  // namespace kiln::widgets
