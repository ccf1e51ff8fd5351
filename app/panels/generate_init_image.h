// The Generate panel's init image for img2img and inpainting: an image well that takes a file (Open…, a drop)
// or the clipboard, and the mask editor over the same image for inpainting. Its own file pair because the panel
// is long already and this part has its own life: where images come from, what is refused and why.
#pragma once

#include <QImage>
#include <QSize>
#include <QString>
#include <QWidget>

class QLabel;
class QPushButton;

namespace kiln::widgets {
class MaskEditor;
}

namespace kiln::app {

class GenerateInitImage : public QWidget {
    Q_OBJECT
public:
    // Larger images are refused: decoding one blocks the UI thread for seconds and the model uses 512-1024 px.
    static constexpr qint64 maxPixels = 100'000'000;

    explicit GenerateInitImage(QWidget* parent = nullptr);

    // Reads a user-chosen file (QImageReader). False with a message (the signal) when it does not read or is too
    // large; the current image and mask stay as they were.
    bool loadFile(const QString& path);
    // The clipboard's image, or the first image file it holds. False with a message when it has neither.
    bool paste();
    void setImage(const QImage& image, const QString& source);  // a blank mask of the image's size
    bool loadMask(const QString& path);                         // scaled to the image; needs an image

    QImage image() const;  // null when there is none
    bool hasImage() const;
    QImage mask() const;   // Format_Grayscale8 at the image's size, 255 = repaint
    bool maskIsEmpty() const;
    void setInpaint(bool inpaint);  // shows the mask tools and overlay
    kiln::widgets::MaskEditor* maskEditor() const { return editor_; }

    // width x height for an image: its own size, down to 2048 on the long side, rounded to multiples of 8 (>= 64).
    static QSize generationSize(QSize image);

Q_SIGNALS:
    void message(const QString& text);
    void sizeFromImage(QSize size);
    void imageChanged();

protected:
    void dragEnterEvent(QDragEnterEvent* e) override;
    void dropEvent(QDropEvent* e) override;

private:
    void updateInfo();

    kiln::widgets::MaskEditor* editor_;
    QLabel* info_;
    QPushButton* sizeButton_;
    QPushButton* clearButton_;
    QString source_;      // what the info line names: a file name, "clipboard", a gallery seed
    QString lastFolder_;  // where Open… starts
};

}  // namespace kiln::app
