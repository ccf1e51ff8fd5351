#include "panels/generate_init_image.h"

#include "widgets/mask_editor.h"

#include <QApplication>
#include <QBuffer>
#include <QClipboard>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFutureWatcher>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QImageReader>
#include <QLabel>
#include <QMimeData>
#include <QPushButton>
#include <QShortcut>
#include <QThreadPool>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>
#include <cmath>
#include <utility>

namespace kiln::app {

using kiln::widgets::MaskEditor;

namespace {

constexpr int kMaxSide = 2048;  // the panel's width/height limit

QString imageFilter()
{
    QStringList patterns;
    for (const QByteArray& format : QImageReader::supportedImageFormats())
        patterns << QStringLiteral("*.") + QString::fromLatin1(format);
    return GenerateInitImage::tr("Images (%1)").arg(patterns.join(QLatin1Char(' ')));
}

}  // namespace

GenerateInitImage::GenerateInitImage(QWidget* parent) : QWidget(parent)
{
    setAcceptDrops(true);
    auto* open = new QPushButton(tr("Open…"), this);
    open->setObjectName(QStringLiteral("initOpenButton"));
    auto* paste = new QPushButton(tr("Paste"), this);
    paste->setObjectName(QStringLiteral("initPasteButton"));
    paste->setToolTip(tr("Take the image on the clipboard (Ctrl+V)"));
    sizeButton_ = new QPushButton(tr("Size from image"), this);
    sizeButton_->setObjectName(QStringLiteral("initSizeButton"));
    sizeButton_->setToolTip(tr("Set width and height from the image, rounded to multiples of 8"));
    clearButton_ = new QPushButton(tr("Remove"), this);
    clearButton_->setObjectName(QStringLiteral("initRemoveButton"));
    info_ = new QLabel(this);
    info_->setObjectName(QStringLiteral("initInfo"));
    info_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    editor_ = new MaskEditor(this);
    editor_->setObjectName(QStringLiteral("initMaskEditor"));
    editor_->canvas()->setPlaceholderText(tr("Open, drop or paste the image to start from."));
    editor_->setToolsVisible(false);

    auto* buttons = new QHBoxLayout;
    buttons->addWidget(open);
    buttons->addWidget(paste);
    buttons->addWidget(sizeButton_);
    buttons->addWidget(clearButton_);
    buttons->addStretch();
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(buttons);
    layout->addWidget(info_);
    layout->addWidget(editor_, 1);

    connect(open, &QPushButton::clicked, this, [this] {
        const QString f = QFileDialog::getOpenFileName(this, tr("Init image"), lastFolder_, imageFilter());
        if (!f.isEmpty()) loadFile(f);
    });
    connect(paste, &QPushButton::clicked, this, &GenerateInitImage::paste);
    auto* pasteKey = new QShortcut(QKeySequence::Paste, this, this, [this] { this->paste(); });
    pasteKey->setContext(Qt::WidgetWithChildrenShortcut);
    connect(sizeButton_, &QPushButton::clicked, this, [this] {
        if (hasImage()) Q_EMIT sizeFromImage(generationSize(image().size()));
    });
    connect(clearButton_, &QPushButton::clicked, this, [this] { setImage({}, {}); });
    updateInfo();
}

QSize GenerateInitImage::generationSize(QSize image)
{
    if (image.isEmpty()) return {};
    const double scale = std::min(1.0, double(kMaxSide) / std::max(image.width(), image.height()));
    auto side = [scale](int v) { return std::clamp(int(std::lround(v * scale / 8.0)) * 8, 64, kMaxSide); };
    return {side(image.width()), side(image.height())};
}

namespace {

QString tooLarge(const QString& what, QSize size)
{
    return GenerateInitImage::tr("%1 is %2×%3 pixels; Kiln takes init images up to %4 megapixels. Scale it down "
                                 "first.")
        .arg(what)
        .arg(size.width())
        .arg(size.height())
        .arg(GenerateInitImage::maxPixels / 1'000'000);
}

bool overLimit(QSize size) { return size.isValid() && qint64(size.width()) * size.height() > GenerateInitImage::maxPixels; }

// Refuses what is not a regular file before anything opens it: reading a FIFO or a device never ends.
QString notAFile(const QString& path)
{
    const QFileInfo info(path);
    if (!info.exists()) return GenerateInitImage::tr("%1 does not exist.").arg(path);
    if (!info.isFile())
        return GenerateInitImage::tr("%1 is not a regular file (a folder, pipe or device); choose an image file.")
            .arg(path);
    return {};
}

// Header first (the size), then the pixels; `what` names the source in messages.
QImage decode(QImageReader& reader, const QString& what, QString* error)
{
    reader.setAutoTransform(true);  // a phone photo stands the way it was taken
    const QSize size = reader.size();
    if (overLimit(size)) {
        *error = tooLarge(what, size);
        return {};
    }
    // Qt's default allocation limit (256 MB) would refuse images below our own limit.
    reader.setAllocationLimit(int(GenerateInitImage::maxPixels * 4 / (1024 * 1024)) + 1);
    QImage image = reader.read();
    if (image.isNull()) {
        *error = GenerateInitImage::tr("Could not read %1 as an image: %2").arg(what, reader.errorString());
        return {};
    }
    if (overLimit(image.size())) {  // a format whose header did not tell the size
        *error = tooLarge(what, image.size());
        return {};
    }
    return image;
}

}  // namespace

GenerateInitImage::Loaded GenerateInitImage::readImageFile(const QString& path)
{
    if (QString why = notAFile(path); !why.isEmpty()) return {{}, why};
    QImageReader reader(path);
    QString error;
    const QImage image = decode(reader, path, &error);
    if (image.isNull()) return {{}, error};
    return prepareImage(image, QFileInfo(path).fileName());
}

GenerateInitImage::Loaded GenerateInitImage::readImageData(const QByteArray& bytes, const QString& what)
{
    QByteArray data = bytes;
    QBuffer buffer(&data);
    if (!buffer.open(QIODevice::ReadOnly)) return {{}, tr("Could not read %1 as an image.").arg(what)};
    QImageReader reader(&buffer);
    QString error;
    const QImage image = decode(reader, what, &error);
    if (image.isNull()) return {{}, error};
    return prepareImage(image, what);
}

GenerateInitImage::Loaded GenerateInitImage::prepareImage(const QImage& image, const QString& what)
{
    if (image.isNull()) return {{}, tr("The %1 is not an image Kiln can read.").arg(what)};
    if (overLimit(image.size())) return {{}, tooLarge(what, image.size())};
    QImage flat = kiln::widgets::flattenOntoWhite(image);
    if (flat.isNull()) return {{}, tr("Not enough memory for the %1×%2 image.").arg(image.width()).arg(image.height())};
    return {std::move(flat), {}};
}

GenerateInitImage::Loaded GenerateInitImage::readMaskFile(const QString& path, QSize imageSize)
{
    if (QString why = notAFile(path); !why.isEmpty()) return {{}, why};
    QImageReader reader(path);
    QString error;
    const QImage read = decode(reader, path, &error);
    if (read.isNull()) return {{}, tr("The mask did not load. %1").arg(error)};
    QImage mask = kiln::widgets::maskFromImage(read);
    if (imageSize.isValid() && mask.size() != imageSize)
        mask = mask.scaled(imageSize, Qt::IgnoreAspectRatio, Qt::FastTransformation);
    if (mask.isNull()) return {{}, tr("Not enough memory for the mask %1.").arg(path)};
    return {std::move(mask), {}};
}

void GenerateInitImage::startImageLoad(std::function<Loaded()> work, const QString& source, const QString& folder)
{
    const int id = ++imageLoad_;
    loadingImage_ = true;
    loadingName_ = source;
    updateInfo();
    auto* watcher = new QFutureWatcher<Loaded>(this);
    connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, id, source, folder] {
        watcher->deleteLater();
        if (id != imageLoad_) return;  // a newer image replaced this one
        loadingImage_ = false;
        const Loaded r = watcher->result();
        if (r.image.isNull()) {
            updateInfo();
            Q_EMIT message(r.error);
            Q_EMIT imageLoaded(false);
            if (!pendingMask_.isEmpty()) {
                pendingMask_.clear();
                Q_EMIT maskLoaded(false);
            }
            finishedLoading();
            return;
        }
        if (!folder.isEmpty()) lastFolder_ = folder;
        setImage(r.image, source);
        Q_EMIT imageLoaded(true);
        if (!pendingMask_.isEmpty()) loadMask(std::exchange(pendingMask_, QString()));
        finishedLoading();
    });
    watcher->setFuture(QtConcurrent::run(QThreadPool::globalInstance(), std::move(work)));
}

void GenerateInitImage::finishedLoading()
{
    if (!isLoading()) Q_EMIT loadingFinished();
}

void GenerateInitImage::loadFile(const QString& path)
{
    startImageLoad([path] { return readImageFile(path); }, QFileInfo(path).fileName(), QFileInfo(path).absolutePath());
}

bool GenerateInitImage::paste()
{
    return takeMimeData(QApplication::clipboard()->mimeData(), tr("clipboard"), tr("The clipboard holds no image."));
}

// Image bytes in a format Qt reads (image/png from another program) are decoded on the pool; an in-process
// QImage (Kiln's own Copy) is checked and flattened there; else the first local file. The current image stays
// until a new one has read.
bool GenerateInitImage::takeMimeData(const QMimeData* data, const QString& source, const QString& nothing)
{
    if (!data) {
        Q_EMIT message(nothing);
        return false;
    }
    const QList<QByteArray> readable = QImageReader::supportedMimeTypes();
    for (const QString& format : data->formats()) {
        if (!format.startsWith(QLatin1String("image/")) || !readable.contains(format.toLatin1())) continue;
        const QByteArray bytes = data->data(format);
        if (bytes.isEmpty()) continue;
        startImageLoad([bytes, source] { return readImageData(bytes, source); }, source, {});
        return true;
    }
    if (data->hasImage()) {
        const QImage image = qvariant_cast<QImage>(data->imageData());
        if (image.isNull()) {
            Q_EMIT message(tr("The %1 is not an image Kiln can read; the current image is kept.").arg(source));
            return false;
        }
        startImageLoad([image, source] { return prepareImage(image, source); }, source, {});
        return true;
    }
    if (data->hasUrls())
        for (const QUrl& url : data->urls())
            if (url.isLocalFile()) {
                loadFile(url.toLocalFile());
                return true;
            }
    Q_EMIT message(nothing);
    return false;
}

void GenerateInitImage::setImage(const QImage& image, const QString& source)
{
    ++imageLoad_;  // whatever was still loading is no longer wanted
    ++maskLoad_;
    loadingImage_ = loadingMask_ = false;
    source_ = image.isNull() ? QString() : source;
    editor_->canvas()->setImage(image);
    updateInfo();
    Q_EMIT imageChanged();
}

void GenerateInitImage::loadMask(const QString& path)
{
    if (loadingImage_) {
        pendingMask_ = path;  // read once the image is in, scaled to it
        return;
    }
    if (!hasImage()) {
        Q_EMIT message(tr("Open the image before its mask."));
        Q_EMIT maskLoaded(false);
        return;
    }
    const int id = ++maskLoad_;
    loadingMask_ = true;
    updateInfo();
    const QSize target = image().size();
    auto* watcher = new QFutureWatcher<Loaded>(this);
    connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, id] {
        watcher->deleteLater();
        if (id != maskLoad_) return;
        loadingMask_ = false;
        updateInfo();
        const Loaded r = watcher->result();
        if (r.image.isNull()) {
            Q_EMIT message(r.error);
            Q_EMIT maskLoaded(false);
        } else {
            editor_->canvas()->setMask(r.image);
            Q_EMIT maskLoaded(true);
        }
        finishedLoading();
    });
    watcher->setFuture(QtConcurrent::run(QThreadPool::globalInstance(), [path, target] { return readMaskFile(path, target); }));
}

const QImage& GenerateInitImage::image() const { return editor_->canvas()->image(); }
bool GenerateInitImage::hasImage() const { return editor_->canvas()->hasImage(); }
QImage GenerateInitImage::mask() const { return editor_->canvas()->mask(); }
bool GenerateInitImage::maskIsEmpty() const { return editor_->canvas()->maskIsEmpty(); }
QString GenerateInitImage::infoText() const { return info_->text(); }

void GenerateInitImage::setInpaint(bool inpaint) { editor_->setToolsVisible(inpaint); }

void GenerateInitImage::updateInfo()
{
    const QImage& img = image();
    if (loadingImage_) info_->setText(tr("%1 · loading…").arg(loadingName_));
    else if (loadingMask_) info_->setText(tr("%1 · %2×%3 · loading the mask…").arg(source_).arg(img.width()).arg(img.height()));
    else info_->setText(img.isNull() ? tr("No image.")
                                     : tr("%1 · %2×%3").arg(source_).arg(img.width()).arg(img.height()));
    sizeButton_->setEnabled(!img.isNull());
    clearButton_->setEnabled(!img.isNull());
}

void GenerateInitImage::dragEnterEvent(QDragEnterEvent* e)
{
    const QMimeData* data = e->mimeData();
    bool image = data->hasImage();
    for (const QString& format : data->formats()) image = image || format.startsWith(QLatin1String("image/"));
    if (data->hasUrls())
        for (const QUrl& url : data->urls()) image = image || url.isLocalFile();
    if (image) e->acceptProposedAction();
}

void GenerateInitImage::dropEvent(QDropEvent* e)
{
    if (takeMimeData(e->mimeData(), tr("dropped image"), tr("Nothing in the drop is an image or an image file.")))
        e->acceptProposedAction();
}

}  // namespace kiln::app
