#include "panels/generate_panel.h"

#include "panels/generate_init_image.h"
#include "io/png_file.h"
#include "qt/engine_thread.h"
#include "widgets/mask_editor.h"
#include "widgets/prompt_highlighter.h"

#include <QApplication>
#include <QClipboard>
#include <QComboBox>
#include <QDialog>
#include <QDoubleSpinBox>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QElapsedTimer>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMenu>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QRegularExpressionValidator>
#include <QSaveFile>
#include <QScrollArea>
#include <QSettings>
#include <QSlider>
#include <QSpinBox>
#include <QSplitter>
#include <QTabBar>
#include <QVBoxLayout>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>

namespace kiln::app {

using kiln::diffusion::GenerationParameters;

namespace {

constexpr int kImageRole = Qt::UserRole;
constexpr int kParametersRole = Qt::UserRole + 1;  // A1111's infotext: what Save writes and Reuse reads
constexpr int kPreviewSide = 320;

QString qs(const std::string& s) { return QString::fromStdString(s); }

qint64 monotonicMs()
{
    static QElapsedTimer clock;
    if (!clock.isValid()) clock.start();
    return clock.elapsed();
}

}  // namespace

GeneratePanel::GeneratePanel(kiln::qt::EngineThread& engine, QWidget* parent) : QWidget(parent), engine_(engine)
{
    setAcceptDrops(true);
    QSettings settings;
    auto* box = new QGroupBox(tr("Stable Diffusion 1.x"), this);
    modelPath_ = new QLineEdit(settings.value(QStringLiteral("generate/modelPath")).toString(), box);
    modelPath_->setObjectName(QStringLiteral("generateModelEdit"));
    modelPath_->setPlaceholderText(tr(".safetensors / .ckpt file or diffusers folder"));
    auto* browseFile = new QPushButton(tr("File…"), box);
    auto* browseFolder = new QPushButton(tr("Folder…"), box);
    connect(browseFile, &QPushButton::clicked, this, [this] {
        const QString f = QFileDialog::getOpenFileName(this, tr("Checkpoint"), modelPath_->text(),
                                                       tr("Checkpoints (*.safetensors *.ckpt *.pt *.pth)"));
        if (!f.isEmpty()) setModelPath(f);
    });
    connect(browseFolder, &QPushButton::clicked, this, [this] {
        const QString d = QFileDialog::getExistingDirectory(this, tr("Diffusers folder"), modelPath_->text());
        if (!d.isEmpty()) setModelPath(d);
    });
    auto* modelRow = new QHBoxLayout;
    modelRow->addWidget(modelPath_, 1);
    modelRow->addWidget(browseFile);
    modelRow->addWidget(browseFolder);
    tokenizerDir_ = new QLineEdit(settings.value(QStringLiteral("generate/tokenizerDir")).toString(), box);
    tokenizerDir_->setObjectName(QStringLiteral("generateTokenizerEdit"));
    tokenizerDir_->setPlaceholderText(tr("the model's tokenizer/ (or tokenizer/ beside a single file)"));
    tokenizerDir_->setToolTip(tr("A folder with CLIP's vocab.json and merges.txt. Single-file checkpoints do not "
                                 "carry one; Kiln looks here, then in tokenizer/ beside the file."));
    vaePath_ = new QLineEdit(settings.value(QStringLiteral("generate/vaePath")).toString(), box);
    vaePath_->setObjectName(QStringLiteral("generateVaeEdit"));
    vaePath_->setPlaceholderText(tr("the model's own"));
    vaePath_->setToolTip(tr("A separate VAE (.safetensors / .ckpt / .pt) to decode with; empty: the model's own"));
    auto* browseVae = new QPushButton(tr("File…"), box);
    connect(browseVae, &QPushButton::clicked, this, [this] {
        const QString f = QFileDialog::getOpenFileName(this, tr("VAE"), vaePath_->text(),
                                                       tr("VAE weights (*.safetensors *.ckpt *.pt *.pth)"));
        if (!f.isEmpty()) setVaePath(f);
    });
    auto* vaeRow = new QHBoxLayout;
    vaeRow->addWidget(vaePath_, 1);
    vaeRow->addWidget(browseVae);
    connect(modelPath_, &QLineEdit::editingFinished, this, &GeneratePanel::rememberPaths);
    connect(tokenizerDir_, &QLineEdit::editingFinished, this, &GeneratePanel::rememberPaths);
    connect(vaePath_, &QLineEdit::editingFinished, this, &GeneratePanel::rememberPaths);

    prompt_ = new QPlainTextEdit(box);
    prompt_->setObjectName(QStringLiteral("generatePromptEdit"));
    prompt_->setPlaceholderText(tr("a (red:1.2) fox in [fog], <lora:ink:0.8>"));
    prompt_->setMaximumHeight(90);
    negative_ = new QPlainTextEdit(box);
    negative_->setObjectName(QStringLiteral("generateNegativeEdit"));
    negative_->setMaximumHeight(60);
    new kiln::widgets::PromptHighlighter(prompt_->document());
    new kiln::widgets::PromptHighlighter(negative_->document());

    sampler_ = new QComboBox(box);
    sampler_->setObjectName(QStringLiteral("generateSamplerCombo"));
    sampler_->addItems({QStringLiteral("Euler a"), QStringLiteral("Euler"), QStringLiteral("LMS"),
                        QStringLiteral("Heun"), QStringLiteral("DPM++ 2M"), QStringLiteral("DDIM")});
    schedule_ = new QComboBox(box);
    schedule_->setObjectName(QStringLiteral("generateScheduleCombo"));
    schedule_->addItems({QStringLiteral("Automatic"), QStringLiteral("Uniform"), QStringLiteral("Normal"),
                         QStringLiteral("Karras")});
    steps_ = new QSpinBox(box);
    steps_->setObjectName(QStringLiteral("generateStepsSpin"));
    steps_->setRange(1, 150);
    steps_->setValue(20);
    cfg_ = new QDoubleSpinBox(box);
    cfg_->setObjectName(QStringLiteral("generateCfgSpin"));
    cfg_->setRange(1.0, 30.0);
    cfg_->setSingleStep(0.5);
    cfg_->setValue(7.0);
    seed_ = new QLineEdit(QStringLiteral("-1"), box);
    seed_->setObjectName(QStringLiteral("generateSeedEdit"));
    seed_->setValidator(new QRegularExpressionValidator(QRegularExpression(QStringLiteral("-1|[0-9]{1,19}")), seed_));
    seed_->setToolTip(tr("-1: a new random seed each run"));
    auto* dice = new QPushButton(tr("Random"), box);
    dice->setToolTip(tr("Random seed (-1)"));
    auto* reuse = new QPushButton(tr("Reuse last"), box);
    reuse->setObjectName(QStringLiteral("generateReuseSeedButton"));
    reuse->setToolTip(tr("Reuse the last image's seed"));
    connect(dice, &QPushButton::clicked, this, [this] { setSeed(-1); });
    connect(reuse, &QPushButton::clicked, this, [this] {
        if (lastSeed_ >= 0) setSeed(lastSeed_);
    });
    auto* seedRow = new QHBoxLayout;
    seedRow->addWidget(seed_, 1);
    seedRow->addWidget(dice);
    seedRow->addWidget(reuse);
    auto makeSide = [box](const char* name) {
        auto* s = new QSpinBox(box);
        s->setObjectName(QLatin1String(name));
        s->setRange(64, 2048);
        s->setSingleStep(8);  // the VAE works in multiples of 8
        s->setValue(512);
        return s;
    };
    width_ = makeSide("generateWidthSpin");
    height_ = makeSide("generateHeightSpin");
    auto* sizeRow = new QHBoxLayout;
    sizeRow->addWidget(width_);
    sizeRow->addWidget(new QLabel(QStringLiteral("×"), box));
    sizeRow->addWidget(height_);
    batch_ = new QSpinBox(box);
    batch_->setRange(1, 16);
    batch_->setToolTip(tr("Images per run (one UNet batch)"));
    batchCount_ = new QSpinBox(box);
    batchCount_->setObjectName(QStringLiteral("generateBatchCountSpin"));
    batchCount_->setRange(1, 100);
    batchCount_->setToolTip(tr("Runs one after another; the seeds go on counting"));
    auto* batchRow = new QHBoxLayout;
    batchRow->addWidget(batch_);
    batchRow->addWidget(new QLabel(tr("× count"), box));
    batchRow->addWidget(batchCount_);

    mode_ = new QTabBar(this);
    mode_->setObjectName(QStringLiteral("generateModeTabs"));
    mode_->addTab(tr("txt2img"));
    mode_->addTab(tr("img2img"));
    mode_->addTab(tr("Inpaint"));
    mode_->setExpanding(false);
    mode_->setDrawBase(false);
    // A slider to sweep, a spin box to type: both edit one value, in hundredths on the slider.
    auto* strengthRow = new QWidget(box);
    strengthSlider_ = new QSlider(Qt::Horizontal, strengthRow);
    strengthSlider_->setRange(0, 100);
    strength_ = new QDoubleSpinBox(strengthRow);
    strength_->setObjectName(QStringLiteral("generateStrengthSpin"));
    strength_->setRange(0.0, 1.0);
    strength_->setSingleStep(0.01);
    strength_->setDecimals(2);
    strength_->setToolTip(tr("How much of the init image is redrawn: 0 keeps it, 1 replaces it"));
    connect(strengthSlider_, &QSlider::valueChanged, strength_, [this](int v) {
        if (std::lround(strength_->value() * 100) != v) strength_->setValue(v / 100.0);
    });
    connect(strength_, &QDoubleSpinBox::valueChanged, strengthSlider_,
            [this](double v) { strengthSlider_->setValue(static_cast<int>(std::lround(v * 100))); });
    strength_->setValue(0.75);
    auto* strengthLayout = new QHBoxLayout(strengthRow);
    strengthLayout->setContentsMargins(0, 0, 0, 0);
    strengthLayout->addWidget(strengthSlider_, 1);
    strengthLayout->addWidget(strength_);
    maskBlur_ = new QSpinBox(box);
    maskBlur_->setObjectName(QStringLiteral("generateMaskBlurSpin"));
    maskBlur_->setRange(0, 64);
    maskBlur_->setValue(4);
    maskBlur_->setSuffix(tr(" px"));
    maskBlur_->setToolTip(tr("Softens the mask's edge so the repainted part blends into what is kept"));
    init_ = new GenerateInitImage(this);
    init_->setObjectName(QStringLiteral("generateInitImage"));
    connect(init_, &GenerateInitImage::message, this, &GeneratePanel::showMessage);
    connect(init_, &GenerateInitImage::sizeFromImage, this, [this](QSize s) { setSize(s.width(), s.height()); });

    generate_ = new QPushButton(tr("Generate"), box);
    generate_->setObjectName(QStringLiteral("generateButton"));
    cancel_ = new QPushButton(tr("Cancel"), box);
    cancel_->setObjectName(QStringLiteral("generateCancelButton"));
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(generate_);
    buttons->addWidget(cancel_);
    buttons->addStretch();
    progress_ = new QProgressBar(box);
    progress_->setRange(0, 1000);
    progress_->setTextVisible(false);
    progress_->setObjectName(QStringLiteral("generateProgress"));
    status_ = new QLabel(tr("Ready. Drop a PNG here to restore its parameters."), box);
    status_->setObjectName(QStringLiteral("generateStatus"));
    status_->setWordWrap(true);
    status_->setTextInteractionFlags(Qt::TextSelectableByMouse);

    auto* form = new QFormLayout(box);
    form->addRow(tr("Model:"), modelRow);
    form->addRow(tr("Tokenizer:"), tokenizerDir_);
    form->addRow(tr("VAE:"), vaeRow);
    form->addRow(tr("Prompt:"), prompt_);
    form->addRow(tr("Negative:"), negative_);
    form->addRow(tr("Sampler:"), sampler_);
    form->addRow(tr("Schedule:"), schedule_);
    form->addRow(tr("Steps:"), steps_);
    form->addRow(tr("CFG scale:"), cfg_);
    form->addRow(tr("Seed:"), seedRow);
    form->addRow(tr("Size:"), sizeRow);
    form->addRow(tr("Batch size:"), batchRow);
    form->addRow(tr("Denoising strength:"), strengthRow);
    form->addRow(tr("Mask blur:"), maskBlur_);
    form->addRow(buttons);
    form->addRow(progress_);
    form->addRow(status_);
    formBox_ = box;
    auto* left = new QWidget(this);
    left->setMaximumWidth(460);
    auto* leftLayout = new QVBoxLayout(left);
    leftLayout->setContentsMargins(0, 0, 0, 0);
    leftLayout->addWidget(mode_);
    leftLayout->addWidget(box, 1);

    preview_ = new QLabel(this);
    preview_->setObjectName(QStringLiteral("generatePreview"));
    preview_->setAlignment(Qt::AlignCenter);
    preview_->setMinimumSize(kPreviewSide, kPreviewSide);
    gallery_ = new QListWidget(this);
    gallery_->setObjectName(QStringLiteral("generateGallery"));
    gallery_->setViewMode(QListView::IconMode);
    gallery_->setIconSize(QSize(128, 128));
    gallery_->setResizeMode(QListView::Adjust);
    gallery_->setMovement(QListView::Static);
    gallery_->setSelectionMode(QAbstractItemView::ExtendedSelection);
    gallery_->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(gallery_, &QListWidget::itemDoubleClicked, this, &GeneratePanel::openLarger);
    connect(gallery_, &QListWidget::customContextMenuRequested, this, &GeneratePanel::galleryMenu);
    // The init image beside the preview, as source and result are compared side by side.
    auto* images = new QSplitter(Qt::Horizontal, this);
    images->addWidget(init_);
    images->addWidget(preview_);
    auto* results = new QSplitter(Qt::Vertical, this);
    results->addWidget(images);
    results->addWidget(gallery_);
    results->setStretchFactor(0, 3);
    results->setStretchFactor(1, 2);

    auto* layout = new QHBoxLayout(this);
    layout->addWidget(left);
    layout->addWidget(results, 1);

    connect(mode_, &QTabBar::currentChanged, this, &GeneratePanel::modeChanged);
    modeChanged();

    connect(generate_, &QPushButton::clicked, this, [this] { generate(); });
    connect(cancel_, &QPushButton::clicked, this, &GeneratePanel::cancel);
    updateButtons();
}

kiln::diffusion::GenerateJobConfig GeneratePanel::config() const
{
    kiln::diffusion::GenerateJobConfig c;
    c.modelPath = modelPath_->text().trimmed().toStdString();
    c.tokenizerDir = tokenizerDir_->text().trimmed().toStdString();
    c.vaePath = vaePath_->text().trimmed().toStdString();
    c.prompt = prompt_->toPlainText().toStdString();
    c.negative = negative_->toPlainText().toStdString();
    c.sampler = sampler_->currentText().toStdString();
    c.schedule = schedule_->currentText().toStdString();
    c.steps = steps_->value();
    c.cfg = cfg_->value();
    c.seed = seed();
    c.width = width_->value();
    c.height = height_->value();
    c.batch = batch_->value();
    c.batchCount = batchCount_->value();
    const Mode m = mode();
    if (m == Mode::Txt2Img || !init_->hasImage()) return c;
    // Full resolution: the engine scales image and mask to width x height itself ("Just resize"). One pass from
    // the canvas' RGB32 (alpha already flattened onto white) straight into the job's bytes, no QImage between.
    const QImage& image = init_->image();
    const QImage rgb32 = image.format() == QImage::Format_RGB32 ? image : image.convertToFormat(QImage::Format_RGB32);
    const auto w = static_cast<std::size_t>(rgb32.width()), h = static_cast<std::size_t>(rgb32.height());
    c.initWidth = rgb32.width();
    c.initHeight = rgb32.height();
    c.initRgb.resize(w * h * 3);
    for (std::size_t y = 0; y < h; ++y) {
        const auto* in = reinterpret_cast<const QRgb*>(rgb32.constScanLine(int(y)));
        std::uint8_t* out = c.initRgb.data() + y * w * 3;
        for (std::size_t x = 0; x < w; ++x, out += 3) {
            out[0] = static_cast<std::uint8_t>(qRed(in[x]));
            out[1] = static_cast<std::uint8_t>(qGreen(in[x]));
            out[2] = static_cast<std::uint8_t>(qBlue(in[x]));
        }
    }
    c.strength = strength_->value();
    if (m == Mode::Inpaint) {
        const QImage mask = init_->mask();  // Grayscale8 at the image's size (shared, not copied)
        c.mask.resize(w * h);
        for (std::size_t y = 0; y < h; ++y) std::memcpy(c.mask.data() + y * w, mask.constScanLine(int(y)), w);
        c.maskBlur = maskBlur_->value();
    }
    return c;
}

void GeneratePanel::setMode(Mode mode) { mode_->setCurrentIndex(static_cast<int>(mode)); }

GeneratePanel::Mode GeneratePanel::mode() const { return static_cast<Mode>(std::max(0, mode_->currentIndex())); }

bool GeneratePanel::modeFromId(const QString& id, Mode* mode)
{
    static const QStringList ids{QStringLiteral("txt2img"), QStringLiteral("img2img"), QStringLiteral("inpaint")};
    const auto i = ids.indexOf(id.trimmed().toLower());
    if (i < 0) return false;
    *mode = static_cast<Mode>(i);
    return true;
}

void GeneratePanel::setStrength(double strength) { strength_->setValue(strength); }
void GeneratePanel::setMaskBlur(int pixels) { maskBlur_->setValue(pixels); }

void GeneratePanel::modeChanged()
{
    const Mode m = mode();
    auto* form = static_cast<QFormLayout*>(formBox_->layout());
    form->setRowVisible(strengthSlider_->parentWidget(), m != Mode::Txt2Img);
    form->setRowVisible(maskBlur_, m == Mode::Inpaint);
    init_->setVisible(m != Mode::Txt2Img);
    init_->setInpaint(m == Mode::Inpaint);
}

void GeneratePanel::setModelPath(const QString& path)
{
    modelPath_->setText(path);
    rememberPaths();
}

void GeneratePanel::setVaePath(const QString& path)
{
    vaePath_->setText(path);
    rememberPaths();
}

void GeneratePanel::setTokenizerDir(const QString& dir)
{
    tokenizerDir_->setText(dir);
    rememberPaths();
}

void GeneratePanel::setPrompt(const QString& prompt, const QString& negative)
{
    prompt_->setPlainText(prompt);
    negative_->setPlainText(negative);
}

void GeneratePanel::setSeed(qint64 seed) { seed_->setText(QString::number(seed < 0 ? -1 : seed)); }

qint64 GeneratePanel::seed() const
{
    bool ok = false;
    const qint64 s = seed_->text().toLongLong(&ok);
    return ok && s >= 0 ? s : -1;
}

void GeneratePanel::setSize(int width, int height)
{
    width_->setValue(width);
    height_->setValue(height);
}

void GeneratePanel::setSteps(int steps) { steps_->setValue(steps); }
int GeneratePanel::steps() const { return steps_->value(); }
QString GeneratePanel::prompt() const { return prompt_->toPlainText(); }
QString GeneratePanel::statusText() const { return status_->text(); }
QString GeneratePanel::progressText() const { return progress_->isTextVisible() ? progress_->format() : QString(); }

void GeneratePanel::rememberPaths()
{
    QSettings settings;
    settings.setValue(QStringLiteral("generate/modelPath"), modelPath_->text().trimmed());
    settings.setValue(QStringLiteral("generate/tokenizerDir"), tokenizerDir_->text().trimmed());
    settings.setValue(QStringLiteral("generate/vaePath"), vaePath_->text().trimmed());
}

void GeneratePanel::showMessage(const QString& text)
{
    status_->setText(text);
    Q_EMIT statusMessage(text);
}

kiln::qt::JobHandle* GeneratePanel::generate()
{
    // The cheap checks first, on the form itself: the image is converted only for a job that will run.
    const QString modelPath = modelPath_->text().trimmed();
    const QString vaePath = vaePath_->text().trimmed();
    // Only a cheap existence check here: reading the model is the engine's work, and it says what is wrong.
    if (modelPath.isEmpty()) {
        showMessage(tr("Choose a model first: a .safetensors / .ckpt file or a diffusers folder."));
        return nullptr;
    }
    if (!QFileInfo::exists(modelPath)) {
        showMessage(tr("The model %1 does not exist.").arg(modelPath));
        return nullptr;
    }
    if (!vaePath.isEmpty() && !QFileInfo::exists(vaePath)) {
        showMessage(tr("The VAE %1 does not exist (clear the field to use the model's own).").arg(vaePath));
        return nullptr;
    }
    if (mode() != Mode::Txt2Img && init_->isLoading()) {
        showMessage(tr("The init image is still loading; generate once it shows."));
        return nullptr;
    }
    if (mode() != Mode::Txt2Img && !init_->hasImage()) {
        showMessage(tr("Open, drop or paste the image to start from (or switch to txt2img)."));
        return nullptr;
    }
    if (mode() == Mode::Inpaint && init_->maskIsEmpty()) {
        showMessage(tr("Paint over the part to repaint first: the left button paints, the right button erases."));
        return nullptr;
    }
    rememberPaths();
    kiln::diffusion::GenerateJobConfig cfg = config();  // the one copy of image and mask; moved into the job
    QPointer<GeneratePanel> self(this);
    auto onImage = [self](const kiln::diffusion::GenerateResult& r) {
        // Runs on the engine thread. Built here so the UI thread only inserts a finished image. `self` is not read
        // on this thread (the panel may be in its destructor on the UI thread): the call is posted to the
        // application, which outlives every panel, and the pointer is checked there, on the UI thread.
        QImage image(r.width, r.height, QImage::Format_RGB888);
        for (int y = 0; y < r.height; ++y)
            std::memcpy(image.scanLine(y), r.rgb.data() + static_cast<std::size_t>(y) * r.width * 3,
                        static_cast<std::size_t>(r.width) * 3);
        QStringList notices;
        for (const auto& n : r.notices) notices << qs(n);
        QMetaObject::invokeMethod(QCoreApplication::instance(), [self, image, params = r.parameters, notices] {
            if (self) self->addImage(image, params, notices);
        }, Qt::QueuedConnection);
    };
    const QString title = (mode() == Mode::Txt2Img   ? tr("Generate: %1")
                           : mode() == Mode::Img2Img ? tr("img2img: %1")
                                                     : tr("Inpaint: %1"))
                              .arg(qs(cfg.prompt).left(40));
    QPointer<kiln::qt::JobHandle> job =
        engine_.submit(title, kiln::diffusion::makeGenerateJob(std::move(cfg), std::move(onImage)), this);
    jobs_.append(job);
    lastJob_ = job;
    connect(job, &kiln::qt::JobHandle::started, this, [this, job] {
        if (!job) return;
        eta_.reset();
        status_->setText(tr("Loading the model…"));
    });
    connect(job, &kiln::qt::JobHandle::progressChanged, this, [this, job](double p, const QString& message) {
        if (!job || job->isFinished()) return;
        progress_->setValue(p < 0 ? 0 : static_cast<int>(p * 1000));
        const QString text = eta_.update(message, monotonicMs());
        progress_->setFormat(text);
        progress_->setTextVisible(true);
        status_->setText(tr("Generating… %1").arg(text));
    });
    connect(job, &kiln::qt::JobHandle::previewArrived, this,
            [this](const std::shared_ptr<const kiln::Preview>& p) { if (p) showPreview(*p); });
    connect(job, &kiln::qt::JobHandle::finished, this, [this, job](JobState s) {
        if (s == JobState::Failed && job) showMessage(tr("Generation failed: %1").arg(job->errorText()));
        else if (s == JobState::Cancelled) showMessage(tr("Cancelled."));
        else showMessage(tr("Finished."));
        progress_->setValue(s == JobState::Succeeded ? 1000 : 0);
        // The last coalesced step preview can land after the finished image; the image is what stays.
        if (s == JobState::Succeeded && !lastImage_.isNull()) showImageInPreview(lastImage_);
        progress_->setTextVisible(false);
        jobs_.removeIf([](const QPointer<kiln::qt::JobHandle>& h) { return !h || h->isFinished(); });
        updateButtons();
    });
    const int waiting = static_cast<int>(jobs_.size()) - 1;
    status_->setText(waiting > 0 ? tr("Queued behind %n job(s).", nullptr, waiting) : tr("Queued."));
    updateButtons();
    return job;
}

void GeneratePanel::cancel()
{
    for (const auto& job : jobs_)
        if (job && !job->isFinished()) job->cancel();
}

void GeneratePanel::showPreview(const kiln::Preview& p)
{
    if (p.width <= 0 || p.height <= 0 || p.rgba.size() < static_cast<std::size_t>(p.width) * p.height * 4) return;
    const QImage image(p.rgba.data(), p.width, p.height, p.width * 4, QImage::Format_RGBA8888);
    // Nearest neighbour: the preview is latent-sized (1/8 of the image) and blocky on purpose, and cheap.
    preview_->setPixmap(QPixmap::fromImage(image.scaled(kPreviewSide, kPreviewSide, Qt::KeepAspectRatio,
                                                        Qt::FastTransformation)));
}

void GeneratePanel::showImageInPreview(const QImage& image)
{
    preview_->setPixmap(QPixmap::fromImage(image.scaled(kPreviewSide, kPreviewSide, Qt::KeepAspectRatio,
                                                        Qt::SmoothTransformation)));
}

void GeneratePanel::addImage(const QImage& image, const GenerationParameters& params, const QStringList& notices)
{
    const QString infotext = qs(kiln::diffusion::formatParameters(params));
    auto* item = new QListWidgetItem(QIcon(QPixmap::fromImage(image.scaled(128, 128, Qt::KeepAspectRatio,
                                                                           Qt::SmoothTransformation))),
                                     params.seed ? QString::number(*params.seed) : QString());
    item->setData(kImageRole, image);
    item->setData(kParametersRole, infotext);
    item->setToolTip(infotext);
    gallery_->addItem(item);
    if (params.seed) lastSeed_ = static_cast<qint64>(*params.seed);
    lastImage_ = image;
    showImageInPreview(image);
    if (!notices.isEmpty()) status_->setText(notices.join(QLatin1Char('\n')));
    Q_EMIT imageAdded(gallery_->count() - 1);
}

bool GeneratePanel::saveImage(int row, const QString& path)
{
    QListWidgetItem* item = gallery_->item(row);
    if (!item) return false;
    QImage image = item->data(kImageRole).value<QImage>();
    image.setText(QStringLiteral("parameters"), item->data(kParametersRole).toString());
    // QSaveFile writes beside the target and renames, so a failed save leaves an existing file untouched.
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly) || !image.save(&file, "PNG") || !file.commit()) {
        showMessage(tr("Could not save %1: %2").arg(path, file.errorString()));
        return false;
    }
    showMessage(tr("Saved %1").arg(path));
    return true;
}

bool GeneratePanel::restoreFromPng(const QString& path)
{
    // A dropped FIFO or device named *.png would block the reader (and the UI) for ever.
    if (!QFileInfo(path).isFile()) {
        showMessage(tr("%1 is not a regular file; drop a PNG file.").arg(path));
        return false;
    }
    // Only the text chunks are read (CRC-checked), not the pixels: a dropped 8K PNG costs a file read, not a decode.
    auto chunks = kiln::io::readPngText(path.toStdString());
    if (!chunks) {
        showMessage(tr("%1 is not a PNG Kiln can read: %2").arg(path, qs(chunks.error().message())));
        return false;
    }
    auto params = kiln::diffusion::parametersFromPngText(*chunks);
    if (!params) {
        showMessage(tr("No generation parameters in %1: %2").arg(path, qs(params.error().message())));
        return false;
    }
    applyParameters(*params);
    showMessage(tr("Parameters restored from %1").arg(QFileInfo(path).fileName()));
    return true;
}

void GeneratePanel::applyParameters(const GenerationParameters& p)
{
    QStringList unknown;
    setPrompt(qs(p.prompt), qs(p.negativePrompt));
    if (p.steps) steps_->setValue(*p.steps);
    if (!p.sampler.empty()) {
        const int i = sampler_->findText(qs(p.sampler));
        if (i >= 0) sampler_->setCurrentIndex(i);
        else unknown << tr("sampler %1").arg(qs(p.sampler));
    }
    if (!p.scheduleType.empty()) {
        const int i = schedule_->findText(qs(p.scheduleType), Qt::MatchFixedString);
        if (i >= 0) schedule_->setCurrentIndex(i);
        else unknown << tr("schedule %1").arg(qs(p.scheduleType));
    }
    if (p.cfgScale) cfg_->setValue(*p.cfgScale);
    if (p.seed) setSeed(static_cast<qint64>(*p.seed));
    if (p.width) width_->setValue(*p.width);
    if (p.height) height_->setValue(*p.height);
    bool ok = false;
    if (const std::string* v = p.find("Denoising strength")) {
        const double d = qs(*v).toDouble(&ok);
        if (ok) strength_->setValue(d);
    }
    if (const std::string* v = p.find("Mask blur")) {
        const int b = qs(*v).toInt(&ok);
        if (ok) maskBlur_->setValue(b);
    }
    if (!unknown.isEmpty()) showMessage(tr("Kept the form's %1: Kiln does not have it.").arg(unknown.join(tr(", "))));
}

void GeneratePanel::dragEnterEvent(QDragEnterEvent* e)
{
    if (e->mimeData()->hasUrls())
        for (const QUrl& url : e->mimeData()->urls())
            if (url.isLocalFile() && url.toLocalFile().endsWith(QLatin1String(".png"), Qt::CaseInsensitive)) {
                e->acceptProposedAction();
                return;
            }
}

void GeneratePanel::dropEvent(QDropEvent* e)
{
    for (const QUrl& url : e->mimeData()->urls())
        if (url.isLocalFile()) {
            restoreFromPng(url.toLocalFile());
            e->acceptProposedAction();
            return;
        }
}

void GeneratePanel::openLarger(QListWidgetItem* item)
{
    if (!item) return;
    auto* dialog = new QDialog(this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    dialog->setWindowTitle(tr("Seed %1").arg(item->text()));
    auto* scroll = new QScrollArea(dialog);
    auto* label = new QLabel(scroll);
    label->setPixmap(QPixmap::fromImage(item->data(kImageRole).value<QImage>()));
    scroll->setWidget(label);
    auto* text = new QLabel(item->data(kParametersRole).toString(), dialog);
    text->setWordWrap(true);
    text->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto* layout = new QVBoxLayout(dialog);
    layout->addWidget(scroll, 1);
    layout->addWidget(text);
    dialog->resize(600, 680);
    dialog->show();
}

void GeneratePanel::galleryMenu(const QPoint& pos)
{
    QListWidgetItem* item = gallery_->itemAt(pos);
    if (!item) return;
    const int row = gallery_->row(item);
    QMenu menu(this);
    menu.addAction(tr("Save…"), this, [this, row, item] {
        const QString f = QFileDialog::getSaveFileName(this, tr("Save image"), tr("%1.png").arg(item->text()),
                                                       tr("PNG images (*.png)"));
        if (!f.isEmpty()) saveImage(row, f);
    });
    menu.addAction(tr("Copy"), this, [item] {
        QApplication::clipboard()->setImage(item->data(kImageRole).value<QImage>());
    });
    menu.addAction(tr("Reuse parameters"), this, [this, item] {
        auto params = kiln::diffusion::parseParameters(item->data(kParametersRole).toString().toStdString());
        if (params) applyParameters(*params);
    });
    menu.addAction(tr("Send to img2img"), this, [this, row] { sendToInit(row, Mode::Img2Img); });
    menu.addAction(tr("Send to inpaint"), this, [this, row] { sendToInit(row, Mode::Inpaint); });
    menu.addSeparator();
    menu.addAction(tr("Delete"), this, [this, row] { delete gallery_->takeItem(row); });
    menu.exec(gallery_->viewport()->mapToGlobal(pos));
}

void GeneratePanel::sendToInit(int row, Mode mode)
{
    QListWidgetItem* item = gallery_->item(row);
    if (!item) return;
    init_->setImage(item->data(kImageRole).value<QImage>(), tr("seed %1").arg(item->text()));
    auto params = kiln::diffusion::parseParameters(item->data(kParametersRole).toString().toStdString());
    if (params) applyParameters(*params);
    setMode(mode);
    showMessage(mode == Mode::Inpaint ? tr("Image %1 is the init image: paint what to repaint.").arg(item->text())
                                      : tr("Image %1 is the init image.").arg(item->text()));
}

void GeneratePanel::updateButtons()
{
    const bool busy = std::any_of(jobs_.begin(), jobs_.end(), [](const auto& j) { return j && !j->isFinished(); });
    cancel_->setEnabled(busy);
}

}  // namespace kiln::app
