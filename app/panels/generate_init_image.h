// The Generate panel's init image for img2img and inpainting: an image well that takes a file (Open…, a drop)
// or the clipboard, and the mask editor over the same image for inpainting. Its own file pair because the panel
// is long already and this part has its own life: where images come from, what is refused and why.
//
// Files and image data are decoded on Qt's global thread pool, never on the UI thread: loadFile, loadMask,
// paste and drop start the work and return; the info line says "loading…" meanwhile and the result arrives by
// imageLoaded / maskLoaded. What is refused (not a regular file, too large, not an image) says why in
// message() and leaves the current image and mask as they were.
#pragma once

#include <QImage>
#include <QSize>
#include <QString>
#include <QWidget>

#include <functional>

class QLabel;
class QMimeData;
class QPushButton;

namespace kiln::widgets {
class MaskEditor;
}

namespace kiln::app {

class GenerateInitImage : public QWidget {
    Q_OBJECT
public:
    // Larger images are refused: the model uses 512-1024 px, and 100 MP of RGBA is 400 MB already.
    static constexpr qint64 maxPixels = 100'000'000;

    // What a read on the pool hands back: an image (Format_RGB32, alpha flattened onto white; for a mask
    // Format_Grayscale8), or a message that says why not.
    struct Loaded {
        QImage image;
        QString error;
    };
    // The reads themselves, callable on any thread. A file must be a regular file (a FIFO or device would block
    // the reader forever); the size is checked from the header before decoding.
    static Loaded readImageFile(const QString& path);
    static Loaded readImageData(const QByteArray& bytes, const QString& what);  // encoded bytes (PNG, JPEG…)
    static Loaded prepareImage(const QImage& image, const QString& what);       // size check + flatten
    // A mask file: its alpha when not flat, else grey levels (as kiln-cli); scaled (nearest) to `imageSize`.
    static Loaded readMaskFile(const QString& path, QSize imageSize);

    explicit GenerateInitImage(QWidget* parent = nullptr);

    // Starts reading a user-chosen file on the thread pool; imageLoaded(ok) when done, message() when not ok.
    void loadFile(const QString& path);
    // The clipboard's image (decoded on the pool), or the first image file it holds. False with a message when
    // it has neither; true when a load started (imageLoaded follows).
    bool paste();
    // A finished image, set at once (a gallery image): a blank mask of its size. Cancels a load in flight.
    void setImage(const QImage& image, const QString& source);
    // Starts reading a mask on the pool; waits for an image still loading. maskLoaded(ok) when done.
    void loadMask(const QString& path);
    bool isLoading() const { return loadingImage_ || loadingMask_ || !pendingMask_.isEmpty(); }

    const QImage& image() const;  // Format_RGB32; null when there is none
    bool hasImage() const;
    QImage mask() const;   // Format_Grayscale8 at the image's size, 255 = repaint
    bool maskIsEmpty() const;
    void setInpaint(bool inpaint);  // shows the mask tools and overlay
    kiln::widgets::MaskEditor* maskEditor() const { return editor_; }
    QString infoText() const;

    // width x height for an image: its own size, down to 2048 on the long side, rounded to multiples of 8 (>= 64).
    static QSize generationSize(QSize image);

Q_SIGNALS:
    void message(const QString& text);
    void sizeFromImage(QSize size);
    void imageChanged();
    void imageLoaded(bool ok);
    void maskLoaded(bool ok);
    void loadingFinished();  // after loads started here: none is left in flight

protected:
    void dragEnterEvent(QDragEnterEvent* e) override;
    void dropEvent(QDropEvent* e) override;

private:
    bool takeMimeData(const QMimeData* data, const QString& source, const QString& nothing);
    void startImageLoad(std::function<Loaded()> work, const QString& source, const QString& folder);
    void finishedLoading();
    void updateInfo();

    kiln::widgets::MaskEditor* editor_;
    QLabel* info_;
    QPushButton* sizeButton_;
    QPushButton* clearButton_;
    QString source_;      // what the info line names: a file name, "clipboard", a gallery seed
    QString lastFolder_;  // where Open… starts
    int imageLoad_ = 0;   // the newest image load; older results are dropped
    int maskLoad_ = 0;
    bool loadingImage_ = false;
    bool loadingMask_ = false;
    QString loadingName_;
    QString pendingMask_;  // a mask asked for while its image was still loading
};

}  // namespace kiln::app
