// A mask painted over an image, as inpainting needs it: the image is shown scaled to fit, the mask as a
// semi-transparent overlay. The mask lives at the image's own resolution (QImage::Format_Grayscale8, 255 =
// painted), so what a caller reads does not depend on how large the widget happened to be on screen.
//
// Usage:
//     auto* editor = new kiln::widgets::MaskEditor(parent);
//     editor->canvas()->setImage(photo);            // a blank mask of the photo's size; history cleared
//     ...                                           // left button paints, right button erases
//     QImage mask = editor->canvas()->mask();       // photo.size(), Format_Grayscale8
#pragma once

#include <QImage>
#include <QPixmap>
#include <QPointF>
#include <QRectF>
#include <QVector>
#include <QWidget>

class QSpinBox;
class QToolButton;

namespace kiln::widgets {

// An image as img2img uses it: alpha composited onto white, as A1111 does (its img2img_background_color), so the
// colour hidden under transparent pixels never reaches the model. Format_RGB32; null in, null out. Any thread.
QImage flattenOntoWhite(const QImage& image);
// A mask image as kiln-cli reads one: its alpha channel when the image has one that is not flat (opaque =
// repaint, transparent = keep), else its grey levels (white = repaint). Format_Grayscale8. Any thread.
QImage maskFromImage(const QImage& mask);

// The painting surface. Strokes are capsules between successive mouse positions, so a fast drag leaves no
// gaps; one stroke (press to release), Clear, Invert and setMask are one undo step each.
class MaskCanvas : public QWidget {
    Q_OBJECT
public:
    explicit MaskCanvas(QWidget* parent = nullptr);

    // A blank mask of the image's size; the undo history starts over. Alpha is flattened onto white.
    void setImage(const QImage& image);
    const QImage& image() const { return image_; }  // Format_RGB32
    bool hasImage() const { return !image_.isNull(); }
    QImage mask() const { return mask_; }  // Format_Grayscale8, image size; null without an image
    // Scaled to the image (nearest), made grey by maskFromImage (a non-flat alpha is the mask); values kept.
    // One undo step. Ignored without an image.
    void setMask(const QImage& mask);
    bool maskIsEmpty() const;

    int brushSize() const { return brush_; }  // diameter in image pixels
    void setBrushSize(int diameter);          // clamped to [minBrush, maxBrush]
    static constexpr int minBrush = 1;
    static constexpr int maxBrush = 512;

    // Without editing the canvas only shows the image (img2img's image well); the mask is kept, not drawn.
    void setEditable(bool editable);
    bool isEditable() const { return editable_; }
    void setPlaceholderText(const QString& text);

    void clear();
    void invert();
    void undo();
    void redo();
    bool canUndo() const { return !undo_.isEmpty(); }
    bool canRedo() const { return !redo_.isEmpty(); }

    QRectF imageRect() const;                    // where the image is drawn, in widget coordinates
    QPointF toImage(const QPointF& widgetPos) const;
    QPointF toWidget(const QPointF& imagePos) const;

Q_SIGNALS:
    void maskChanged();
    void brushSizeChanged(int diameter);
    void historyChanged();

protected:
    void paintEvent(QPaintEvent* e) override;
    void mousePressEvent(QMouseEvent* e) override;
    void mouseMoveEvent(QMouseEvent* e) override;
    void mouseReleaseEvent(QMouseEvent* e) override;
    void wheelEvent(QWheelEvent* e) override;
    void keyPressEvent(QKeyEvent* e) override;
    void leaveEvent(QEvent* e) override;

private:
    void stamp(const QPointF& a, const QPointF& b, uchar value);
    void pushHistory();
    void rebuildOverlay(const QRect& area);
    void wholeMaskChanged();  // after mask_ was replaced or changed everywhere: overlay, signal, repaint
    // Undo (from undo_ to redo_) or redo (the reverse): the current mask goes onto `to`.
    void stepHistory(QVector<QImage>& from, QVector<QImage>& to);
    QRect cursorRect() const;  // the brush outline's area, in widget coordinates

    QImage image_;
    QPixmap scaled_;  // image_ at the size it is drawn
    QImage mask_;     // Grayscale8
    QImage overlay_;  // ARGB32_Premultiplied, the mask in colour, image size
    QVector<QImage> undo_, redo_;
    int brush_ = 32;
    bool editable_ = true;
    QString placeholder_;
    Qt::MouseButton stroke_ = Qt::NoButton;
    QPointF last_;  // image coordinates of the stroke's last point
    QPointF hover_;
    bool hovering_ = false;
};

// The canvas with its tools: brush size, Clear, Invert, Undo, Redo.
class MaskEditor : public QWidget {
    Q_OBJECT
public:
    explicit MaskEditor(QWidget* parent = nullptr);
    MaskCanvas* canvas() const { return canvas_; }
    QSpinBox* brushSpin() const { return brush_; }
    void setToolsVisible(bool visible);  // hidden, the editor is a plain image view

private:
    void updateTools();

    MaskCanvas* canvas_;
    QWidget* tools_;
    QSpinBox* brush_;
    QToolButton* undo_;
    QToolButton* redo_;
};

}  // namespace kiln::widgets
