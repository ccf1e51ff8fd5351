// The mask editor, offscreen: mouse strokes land on the mask at image coordinates through the fit scaling,
// the right button erases, a fast drag leaves no gap, Clear/Invert, Undo/Redo (buttons and keys), brush size
// by spin box and Ctrl+wheel, and a canvas that only shows an image does not paint.
#include "widgets/mask_editor.h"

#include <QApplication>
#include <QMouseEvent>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTest>
#include <QToolButton>
#include <QWheelEvent>

#include <cmath>
#include <cstdlib>

using kiln::widgets::MaskCanvas;
using kiln::widgets::MaskEditor;

namespace {

int value(const QImage& mask, int x, int y) { return mask.constScanLine(y)[x]; }

int painted(const QImage& mask)
{
    int n = 0;
    for (int y = 0; y < mask.height(); ++y)
        for (int x = 0; x < mask.width(); ++x) n += value(mask, x, y) == 255;
    return n;
}

// A move with the button held, sent straight to the widget so the test does not depend on the platform's cursor.
void drag(QWidget* w, QPoint to, Qt::MouseButton button)
{
    QMouseEvent move(QEvent::MouseMove, QPointF(to), w->mapToGlobal(QPointF(to)), Qt::NoButton, button,
                     Qt::NoModifier);
    QApplication::sendEvent(w, &move);
}

QImage photo(int w, int h)
{
    QImage image(w, h, QImage::Format_RGB888);
    image.fill(QColor(30, 120, 200));
    return image;
}

}  // namespace

class TestMaskEditor : public QObject {
    Q_OBJECT

    // Where image pixel (x, y) of a 200x100 image shows in canvas c: the fit worked out here again rather than
    // taken from the canvas, so a wrong fit computation fails.
    static QPoint at(const QWidget* c, double x, double y)
    {
        const double s = std::min(c->width() / 200.0, c->height() / 100.0);
        const double x0 = (c->width() - 200 * s) / 2, y0 = (c->height() - 100 * s) / 2;
        return QPoint(int(std::lround(x0 + x * s)), int(std::lround(y0 + y * s)));
    }

    struct Fixture {
        MaskEditor editor;
        MaskCanvas* canvas;
        Fixture()
        {
            canvas = editor.canvas();
            editor.setToolsVisible(true);
            editor.resize(420, 480);
            editor.show();
            canvas->setImage(photo(200, 100));
        }
    };

private Q_SLOTS:
    void fitScaling()
    {
        MaskCanvas canvas;
        canvas.resize(400, 400);
        canvas.setImage(photo(200, 100));
        QCOMPARE(canvas.imageRect(), QRectF(0, 100, 400, 200));
        QCOMPARE(canvas.toImage(QPointF(100, 200)), QPointF(50, 50));
        QCOMPARE(canvas.mask().format(), QImage::Format_Grayscale8);
        QCOMPARE(canvas.mask().size(), QSize(200, 100));
        QVERIFY(canvas.maskIsEmpty());
    }

    void pressPaintsAtImageCoordinates()
    {
        MaskCanvas canvas;
        canvas.resize(400, 400);
        canvas.show();
        QVERIFY(QTest::qWaitForWindowExposed(&canvas));
        canvas.setImage(photo(200, 100));
        canvas.setBrushSize(10);  // radius 5 image pixels
        QTest::mousePress(&canvas, Qt::LeftButton, Qt::NoModifier, QPoint(100, 200));
        QTest::mouseRelease(&canvas, Qt::LeftButton, Qt::NoModifier, QPoint(100, 200));
        const QImage m = canvas.mask();
        QCOMPARE(value(m, 50, 50), 255);
        QCOMPARE(value(m, 53, 50), 255);
        QCOMPARE(value(m, 50, 46), 255);
        QCOMPARE(value(m, 57, 50), 0);
        QCOMPARE(value(m, 50, 57), 0);
        QCOMPARE(value(m, 100, 20), 0);
        // About a disc of radius 5.
        const int n = painted(m);
        QVERIFY2(n > 60 && n < 100, qPrintable(QString::number(n)));
        QVERIFY(!canvas.maskIsEmpty());

        // On screen: the painted spot is tinted by the overlay, the rest shows the image as it is.
        const QImage shown = canvas.grab().toImage();
        const QColor spot = shown.pixelColor(100, 200), plain = shown.pixelColor(300, 150);
        QVERIFY2(spot.red() > plain.red() + 60, qPrintable(spot.name()));
        QVERIFY2(std::abs(plain.red() - 30) <= 2 && std::abs(plain.blue() - 200) <= 2, qPrintable(plain.name()));
    }

    void fastDragLeavesNoGaps()
    {
        Fixture f;
        QVERIFY(QTest::qWaitForWindowExposed(&f.editor));
        auto* c = f.canvas;
        QVERIFY(c->imageRect().width() >= 400);  // at least 2 widget pixels an image pixel
        c->setBrushSize(4);
        QTest::mousePress(c, Qt::LeftButton, Qt::NoModifier, at(c, 10, 20));
        drag(c, at(c, 190, 20), Qt::LeftButton);          // one event across 180 image pixels
        drag(c, at(c, 190, 90), Qt::LeftButton);          // and a diagonal-free turn down
        QTest::mouseRelease(c, Qt::LeftButton, Qt::NoModifier, at(c, 190, 90));
        const QImage m = c->mask();
        for (int x = 10; x <= 190; ++x) QVERIFY2(value(m, x, 20) == 255, qPrintable(QString::number(x)));
        for (int y = 20; y <= 90; ++y) QVERIFY2(value(m, 190, y) == 255, qPrintable(QString::number(y)));
        QCOMPARE(value(m, 100, 30), 0);
        QCOMPARE(value(m, 100, 60), 0);

        // A diagonal drag: every pixel on the line is covered.
        c->clear();
        QTest::mousePress(c, Qt::LeftButton, Qt::NoModifier, at(c, 0, 0));
        drag(c, at(c, 99, 99), Qt::LeftButton);
        QTest::mouseRelease(c, Qt::LeftButton, Qt::NoModifier, at(c, 99, 99));
        for (int i = 1; i < 99; ++i) QVERIFY2(value(c->mask(), i, i) == 255, qPrintable(QString::number(i)));
    }

    void rightButtonErases()
    {
        Fixture f;
        auto* c = f.canvas;
        c->invert();  // all painted
        QCOMPARE(painted(c->mask()), 200 * 100);
        c->setBrushSize(6);
        QTest::mousePress(c, Qt::RightButton, Qt::NoModifier, at(c, 20, 50));
        drag(c, at(c, 180, 50), Qt::RightButton);
        QTest::mouseRelease(c, Qt::RightButton, Qt::NoModifier, at(c, 180, 50));
        const QImage m = c->mask();
        for (int x = 20; x <= 180; ++x) QCOMPARE(value(m, x, 50), 0);
        QCOMPARE(value(m, 100, 10), 255);
        QCOMPARE(value(m, 5, 50), 255);
    }

    void clearAndInvert()
    {
        Fixture f;
        auto* c = f.canvas;
        c->setBrushSize(10);
        QTest::mousePress(c, Qt::LeftButton, Qt::NoModifier, at(c, 50, 50));
        QTest::mouseRelease(c, Qt::LeftButton, Qt::NoModifier, at(c, 50, 50));
        const int n = painted(c->mask());
        QVERIFY(n > 0);
        f.editor.findChild<QToolButton*>(QStringLiteral("maskInvertButton"))->click();
        QCOMPARE(painted(c->mask()), 200 * 100 - n);
        QCOMPARE(value(c->mask(), 50, 50), 0);
        QCOMPARE(value(c->mask(), 150, 20), 255);
        f.editor.findChild<QToolButton*>(QStringLiteral("maskClearButton"))->click();
        QVERIFY(c->maskIsEmpty());
    }

    void undoRedo()
    {
        Fixture f;
        QVERIFY(QTest::qWaitForWindowExposed(&f.editor));
        auto* c = f.canvas;
        auto* undo = f.editor.findChild<QToolButton*>(QStringLiteral("maskUndoButton"));
        auto* redo = f.editor.findChild<QToolButton*>(QStringLiteral("maskRedoButton"));
        QVERIFY(!undo->isEnabled());
        c->setBrushSize(8);
        QTest::mousePress(c, Qt::LeftButton, Qt::NoModifier, at(c, 30, 30));
        drag(c, at(c, 60, 30), Qt::LeftButton);
        QTest::mouseRelease(c, Qt::LeftButton, Qt::NoModifier, at(c, 60, 30));
        const QImage first = c->mask();
        QTest::mousePress(c, Qt::LeftButton, Qt::NoModifier, at(c, 120, 70));
        drag(c, at(c, 150, 70), Qt::LeftButton);
        QTest::mouseRelease(c, Qt::LeftButton, Qt::NoModifier, at(c, 150, 70));
        const QImage second = c->mask();
        QVERIFY(first != second);
        QVERIFY(undo->isEnabled());

        // Keys on the focused canvas (a press gives it focus).
        QTest::keyClick(c, Qt::Key_Z, Qt::ControlModifier);
        QCOMPARE(c->mask(), first);
        QVERIFY(redo->isEnabled());
        QTest::keyClick(c, Qt::Key_Z, Qt::ControlModifier);
        QVERIFY(c->maskIsEmpty());
        QTest::keyClick(c, Qt::Key_Z, Qt::ControlModifier | Qt::ShiftModifier);
        QCOMPARE(c->mask(), first);
        redo->click();
        QCOMPARE(c->mask(), second);
        QVERIFY(!redo->isEnabled());
        undo->click();
        QCOMPARE(c->mask(), first);
        // A new stroke drops what could be redone.
        QTest::mousePress(c, Qt::LeftButton, Qt::NoModifier, at(c, 180, 10));
        QTest::mouseRelease(c, Qt::LeftButton, Qt::NoModifier, at(c, 180, 10));
        QVERIFY(!c->canRedo());
        QCOMPARE(value(c->mask(), 130, 70), 0);

        // Clear and Invert are undoable too; a new image starts a new history.
        c->clear();
        c->undo();
        QCOMPARE(value(c->mask(), 180, 10), 255);
        c->setImage(photo(40, 40));
        QVERIFY(!c->canUndo());
        QVERIFY(c->maskIsEmpty());
    }

    void brushSize()
    {
        Fixture f;
        auto* c = f.canvas;
        QSpinBox* spin = f.editor.brushSpin();
        spin->setValue(20);
        QCOMPARE(c->brushSize(), 20);
        QTest::mousePress(c, Qt::LeftButton, Qt::NoModifier, at(c, 100, 50));
        QTest::mouseRelease(c, Qt::LeftButton, Qt::NoModifier, at(c, 100, 50));
        const int big = painted(c->mask());
        QVERIFY2(std::abs(big - 3.14159 * 100) < 40, qPrintable(QString::number(big)));  // a disc of radius 10
        QCOMPARE(value(c->mask(), 108, 50), 255);
        QCOMPARE(value(c->mask(), 112, 50), 0);

        // Ctrl+wheel grows and shrinks the brush and the spin box follows; a plain wheel leaves it.
        const QPointF pos = at(c, 100, 50);
        auto wheel = [&](int delta, Qt::KeyboardModifiers mods) {
            QWheelEvent e(pos, c->mapToGlobal(pos), QPoint(), QPoint(0, delta), Qt::NoButton, mods, Qt::NoScrollPhase,
                          false);
            QApplication::sendEvent(c, &e);
        };
        wheel(120, Qt::ControlModifier);
        QVERIFY(c->brushSize() > 20);
        QCOMPARE(spin->value(), c->brushSize());
        const int grown = c->brushSize();
        wheel(120, Qt::NoModifier);
        QCOMPARE(c->brushSize(), grown);
        wheel(-240, Qt::ControlModifier);
        QVERIFY(c->brushSize() < grown);
        c->setBrushSize(100000);
        QCOMPARE(c->brushSize(), MaskCanvas::maxBrush);
        c->setBrushSize(0);
        QCOMPARE(c->brushSize(), MaskCanvas::minBrush);
    }

    void viewOnlyDoesNotPaint()
    {
        Fixture f;
        f.editor.setToolsVisible(false);
        QVERIFY(!f.canvas->isEditable());
        QTest::mousePress(f.canvas, Qt::LeftButton, Qt::NoModifier, at(f.canvas, 50, 50));
        QTest::mouseRelease(f.canvas, Qt::LeftButton, Qt::NoModifier, at(f.canvas, 50, 50));
        QVERIFY(f.canvas->maskIsEmpty());
    }

    void setMaskScalesToTheImage()
    {
        MaskCanvas c;
        c.setImage(photo(200, 100));
        QImage half(20, 10, QImage::Format_Grayscale8);
        half.fill(0);
        for (int y = 0; y < 10; ++y)
            for (int x = 0; x < 10; ++x) half.scanLine(y)[x] = 255;
        QSignalSpy changed(&c, &MaskCanvas::maskChanged);
        c.setMask(half);
        QCOMPARE(changed.count(), 1);
        QCOMPARE(c.mask().size(), QSize(200, 100));
        QCOMPARE(value(c.mask(), 0, 0), 255);
        QCOMPARE(value(c.mask(), 99, 99), 255);
        QCOMPARE(value(c.mask(), 100, 0), 0);
        QCOMPARE(painted(c.mask()), 100 * 100);
        c.undo();
        QVERIFY(c.maskIsEmpty());
    }

    // An image with alpha is flattened onto white, as A1111 does: what lies under a transparent pixel is gone.
    void transparentImageFlattensOntoWhite()
    {
        QImage rgba(3, 1, QImage::Format_ARGB32);
        rgba.setPixel(0, 0, qRgba(255, 0, 0, 0));      // red, fully transparent
        rgba.setPixel(1, 0, qRgba(0, 0, 255, 128));    // blue, half
        rgba.setPixel(2, 0, qRgba(10, 200, 30, 255));  // opaque
        MaskCanvas c;
        c.setImage(rgba);
        QCOMPARE(c.image().format(), QImage::Format_RGB32);
        QCOMPARE(c.image().pixel(0, 0), qRgb(255, 255, 255));
        QCOMPARE(c.image().pixel(1, 0), qRgb(127, 127, 255));
        QCOMPARE(c.image().pixel(2, 0), qRgb(10, 200, 30));
        // Premultiplied input gives the same.
        const QImage flat = kiln::widgets::flattenOntoWhite(rgba.convertToFormat(QImage::Format_ARGB32_Premultiplied));
        QCOMPARE(flat.pixel(0, 0), qRgb(255, 255, 255));
        QCOMPARE(qBlue(flat.pixel(1, 0)), 255);
        QVERIFY(std::abs(qRed(flat.pixel(1, 0)) - 127) <= 1);
        // Without alpha nothing changes.
        QCOMPARE(kiln::widgets::flattenOntoWhite(photo(4, 4)).pixel(1, 1), qRgb(30, 120, 200));
        QVERIFY(kiln::widgets::flattenOntoWhite(QImage()).isNull());
    }

    // A mask with an alpha channel that is not flat: the alpha is the mask (opaque = repaint), as kiln-cli reads
    // one; with a flat alpha the grey levels are.
    void alphaMask()
    {
        MaskCanvas c;
        c.setImage(photo(4, 1));
        QImage alpha(4, 1, QImage::Format_ARGB32);
        alpha.setPixel(0, 0, qRgba(0, 0, 0, 255));
        alpha.setPixel(1, 0, qRgba(0, 0, 0, 128));
        alpha.setPixel(2, 0, qRgba(255, 255, 255, 0));
        alpha.setPixel(3, 0, qRgba(0, 0, 0, 0));
        c.setMask(alpha);
        QCOMPARE(value(c.mask(), 0, 0), 255);
        QCOMPARE(value(c.mask(), 1, 0), 128);
        QCOMPARE(value(c.mask(), 2, 0), 0);
        QCOMPARE(value(c.mask(), 3, 0), 0);
        QImage opaque(4, 1, QImage::Format_ARGB32);
        opaque.fill(qRgba(0, 0, 0, 255));
        opaque.setPixel(2, 0, qRgba(255, 255, 255, 255));
        c.setMask(opaque);
        QCOMPARE(value(c.mask(), 0, 0), 0);
        QCOMPARE(value(c.mask(), 2, 0), 255);
        QCOMPARE(kiln::widgets::maskFromImage(alpha).format(), QImage::Format_Grayscale8);
    }
};

QTEST_MAIN(TestMaskEditor)
#include "test_mask_editor.moc"
