#include "panels/generate_init_image.h"

#include "widgets/mask_editor.h"

#include <QApplication>
#include <QClipboard>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QImageReader>
#include <QLabel>
#include <QMimeData>
#include <QPushButton>
#include <QShortcut>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

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

bool GenerateInitImage::loadFile(const QString& path)
{
    QImageReader reader(path);
    reader.setAutoTransform(true);  // a phone photo stands the way it was taken
    const QSize size = reader.size();
    if (size.isValid() && qint64(size.width()) * size.height() > maxPixels) {
        Q_EMIT message(tr("%1 is %2×%3 pixels; Kiln takes init images up to %4 megapixels. Scale it down first.")
                           .arg(QFileInfo(path).fileName())
                           .arg(size.width())
                           .arg(size.height())
                           .arg(maxPixels / 1'000'000));
        return false;
    }
    // Qt's default allocation limit (256 MB) would refuse images below our own limit.
    reader.setAllocationLimit(int(maxPixels * 4 / (1024 * 1024)) + 1);
    QImage image = reader.read();
    if (image.isNull()) {
        Q_EMIT message(tr("Could not read %1 as an image: %2").arg(path, reader.errorString()));
        return false;
    }
    lastFolder_ = QFileInfo(path).absolutePath();
    setImage(image, QFileInfo(path).fileName());
    return true;
}

bool GenerateInitImage::paste()
{
    const QMimeData* data = QApplication::clipboard()->mimeData();
    if (data && data->hasImage()) {
        const QImage image = qvariant_cast<QImage>(data->imageData());
        if (!image.isNull()) {
            setImage(image, tr("clipboard"));
            return true;
        }
    }
    if (data && data->hasUrls())
        for (const QUrl& url : data->urls())
            if (url.isLocalFile()) return loadFile(url.toLocalFile());
    Q_EMIT message(tr("The clipboard holds no image."));
    return false;
}

void GenerateInitImage::setImage(const QImage& image, const QString& source)
{
    source_ = image.isNull() ? QString() : source;
    editor_->canvas()->setImage(image);
    updateInfo();
    Q_EMIT imageChanged();
}

bool GenerateInitImage::loadMask(const QString& path)
{
    if (!hasImage()) {
        Q_EMIT message(tr("Open the image before its mask."));
        return false;
    }
    QImageReader reader(path);
    const QSize size = reader.size();
    if (size.isValid() && qint64(size.width()) * size.height() > maxPixels) {
        Q_EMIT message(tr("%1 is too large for a mask.").arg(QFileInfo(path).fileName()));
        return false;
    }
    const QImage mask = reader.read();
    if (mask.isNull()) {
        Q_EMIT message(tr("Could not read the mask %1: %2").arg(path, reader.errorString()));
        return false;
    }
    editor_->canvas()->setMask(mask);
    return true;
}

QImage GenerateInitImage::image() const { return editor_->canvas()->image(); }
bool GenerateInitImage::hasImage() const { return editor_->canvas()->hasImage(); }
QImage GenerateInitImage::mask() const { return editor_->canvas()->mask(); }
bool GenerateInitImage::maskIsEmpty() const { return editor_->canvas()->maskIsEmpty(); }

void GenerateInitImage::setInpaint(bool inpaint) { editor_->setToolsVisible(inpaint); }

void GenerateInitImage::updateInfo()
{
    const QImage img = image();
    info_->setText(img.isNull() ? tr("No image.")
                                : tr("%1 · %2×%3").arg(source_).arg(img.width()).arg(img.height()));
    sizeButton_->setEnabled(!img.isNull());
    clearButton_->setEnabled(!img.isNull());
}

void GenerateInitImage::dragEnterEvent(QDragEnterEvent* e)
{
    if (e->mimeData()->hasImage()) {
        e->acceptProposedAction();
        return;
    }
    if (e->mimeData()->hasUrls())
        for (const QUrl& url : e->mimeData()->urls())
            if (url.isLocalFile()) {
                e->acceptProposedAction();
                return;
            }
}

void GenerateInitImage::dropEvent(QDropEvent* e)
{
    if (e->mimeData()->hasImage()) {
        setImage(qvariant_cast<QImage>(e->mimeData()->imageData()), tr("dropped image"));
        e->acceptProposedAction();
        return;
    }
    for (const QUrl& url : e->mimeData()->urls())
        if (url.isLocalFile()) {
            loadFile(url.toLocalFile());
            e->acceptProposedAction();
            return;
        }
}

}  // namespace kiln::app
