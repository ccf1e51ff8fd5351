#include "train/trainer.h"

#include "train/batches.h"
#include "train/checkpoint.h"
#include "train/loss.h"
#include "train/lr_schedule.h"
#include "train/memory_format.h"
#include "train/optim.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <thread>
#include <torch/nn/utils/clip_grad.h>

namespace kiln::train {

int applyThreadSetting(int requested)
{
    const int n = requested > 0 ? requested : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    // With GNU OpenMP the count lives in the calling thread's OpenMP state, so it is set here,
    // on the thread that trains, not once in main().
    if (at::get_num_threads() != n) at::set_num_threads(n);
    return at::get_num_threads();
}

namespace {

using Clock = std::chrono::steady_clock;

std::string fixed(double v, int decimals)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

class Run {
public:
    Run(const TrainConfig& c, const TrainModel& m, const TrainData& d, JobContext& ctx, const TrainHooks& h)
        : cfg_(c), model_(m), data_(d), ctx_(ctx), hooks_(h)
    {
    }

    Result<TrainSummary> run();

private:
    Result<void> setup();
    Result<void> resume();
    Result<void> trainBatch(std::int64_t epoch, std::int64_t batch);
    Result<void> endEpoch(std::int64_t epoch);
    Result<void> saveStep(std::int64_t epoch, std::int64_t batchInEpoch);
    Result<TrainSummary> stop(std::int64_t epoch, std::int64_t batchInEpoch);
    Error divergence(std::string what) const;
    bool stopRequested() const;
    bool cancelled() const { return ctx_.cancelled(); }
    double progress() const { return total_ ? static_cast<double>(step_) / static_cast<double>(total_) : 0.0; }

    const TrainConfig& cfg_;
    const TrainModel& model_;
    const TrainData& data_;
    JobContext& ctx_;
    const TrainHooks& hooks_;

    NamedParameters params_;
    std::vector<torch::Tensor> paramTensors_;
    std::optional<ChannelsLastScope> layout_;  // before opt_: outlives the optimizer's state
    std::unique_ptr<torch::optim::Optimizer> opt_;
    std::optional<BatchPlan> plan_;
    std::optional<CheckpointFolder> folder_;
    torch::Device device_ = torch::kCPU;
    TrainSummary summary_;

    std::int64_t batchesPerEpoch_ = 0, total_ = 0;
    std::int64_t step_ = 0, startEpoch_ = 0, startBatch_ = 0, lastSavedStep_ = -1;
    double epochLossSum_ = 0;
    std::int64_t epochBatches_ = 0, epochCorrect_ = 0, epochCount_ = 0;
    double bestLoss_ = std::numeric_limits<double>::infinity();
    bool shapesChecked_ = false;
};

bool Run::stopRequested() const
{
    if (hooks_.pause && hooks_.pause->paused()) {
        ctx_.report(progress(), "paused at step " + std::to_string(step_));
        ctx_.flush();  // the UI shows it now, not when the next update would have gone out
        if (!hooks_.pause->waitWhilePaused([this] { return cancelled(); })) return true;
        ctx_.report(progress(), "resumed at step " + std::to_string(step_));
    }
    return cancelled();
}

Error Run::divergence(std::string what) const
{
    const std::string last = folder_ ? folder_->lastPath() : std::string();
    if (!last.empty()) what += "; the last good checkpoint is " + last;
    else if (folder_) what += "; no checkpoint was saved before it";
    else what += "; checkpoints are off, so there is none to go back to";
    return makeError(what, {}, "lower the learning rate, clip the gradients, or look for NaN in the data");
}

Result<void> Run::setup()
{
    if (!model_.module || !model_.forward) return makeError("there is no model to train");
    if (cfg_.epochs < 1) return makeError("train for at least one epoch");
    if (cfg_.batchSize < 1) return makeError("the batch size must be at least 1");
    if (data_.train.size() == 0) return makeError("the training set is empty", {}, "choose a dataset with items in it");
    if (data_.train.targets.size(0) != data_.train.size())
        return makeError("the training set has " + std::to_string(data_.train.size()) + " inputs but " +
                         std::to_string(data_.train.targets.size(0)) + " targets");
    if (data_.train.imageInputs())
        if (auto r = validateAugment(cfg_.data.augment, data_.train.inputs.size(1)); !r) return r;

    summary_.threads = applyThreadSetting(cfg_.threads);
    summary_.dataDescription = data_.info.description;
    params_ = trainableParameters(*model_.module);
    // Before the optimizer exists, so its moments are made in the same layout as the parameters.
    if (!params_.empty() && prefersChannelsLast(*model_.module, params_.front().second.device()))
        layout_.emplace(*model_.module);
    for (const auto& [name, p] : params_) paramTensors_.push_back(p);
    auto opt = makeOptimizer(cfg_.optimizer, params_);
    if (!opt) return opt.error();
    opt_ = std::move(*opt);
    device_ = params_.front().second.device();

    plan_.emplace(data_.train.size(), cfg_.batchSize, /*shuffle=*/true, cfg_.dropLastBatch, cfg_.seed);
    batchesPerEpoch_ = plan_->batchesPerEpoch();
    total_ = batchesPerEpoch_ * cfg_.epochs;
    if (cfg_.maxSteps > 0) total_ = std::min(total_, cfg_.maxSteps);

    if (!cfg_.checkpoint.directory.empty()) {
        auto folder = CheckpointFolder::open(cfg_.checkpoint.directory, cfg_.checkpoint.resume);
        if (!folder) return folder.error();
        folder_.emplace(std::move(*folder));
        auto& m = folder_->manifest();
        if (!m.last()) {
            m.optimizerId = std::string(toId(cfg_.optimizer.kind));
            m.classNames = data_.info.classNames;
            m.vocab = data_.info.vocab ? data_.info.vocab->toString() : std::string();
        }
        if (auto r = resume(); !r) return r;
    }
    if (data_.info.skippedFiles > 0) ctx_.emitMetric(metric::kSkippedImages, step_, static_cast<double>(data_.info.skippedFiles));
    ctx_.report(progress(), (data_.info.description.empty() ? std::string("training") : data_.info.description) + " (" +
                                std::to_string(summary_.threads) + " threads)");
    return success();
}

Result<void> Run::resume()
{
    const auto& m = folder_->manifest();
    if (!cfg_.checkpoint.resume || !m.last()) return success();
    const CheckpointRecord rec = *m.last();
    if (!m.optimizerId.empty() && m.optimizerId != toId(cfg_.optimizer.kind))
        return makeError("the run was trained with " + m.optimizerId + ", not " + std::string(toId(cfg_.optimizer.kind)),
                         folder_->dir(), "resume with the same optimizer, or start a new run");
    if (auto r = loadModuleState(folder_->pathOf(rec.model), *model_.module); !r) return r;
    auto optFile = io::SafetensorsFile::open(folder_->pathOf(rec.optimizer));
    if (!optFile) return optFile.error();
    if (auto r = restoreOptimizerState(*opt_, cfg_.optimizer.kind, params_, *optFile); !r) return r;
    step_ = lastSavedStep_ = rec.step;
    startEpoch_ = rec.epoch;
    // A changed batch size changes the epoch's batch count; the epoch then resumes at its end.
    startBatch_ = std::min(rec.batchInEpoch, batchesPerEpoch_);
    epochLossSum_ = rec.epochLossSum;
    epochBatches_ = rec.epochBatches;
    epochCorrect_ = rec.epochCorrect;
    epochCount_ = rec.epochCount;
    if (m.best) bestLoss_ = m.best->valLoss;
    summary_.resumedFromStep = step_;
    summary_.steps = step_;
    summary_.lastCheckpoint = folder_->pathOf(rec.model);
    summary_.bestCheckpoint = folder_->bestPath();
    ctx_.report(progress(), "resumed from step " + std::to_string(step_) + " (" + rec.model + ")");
    return success();
}

Result<void> Run::trainBatch(std::int64_t epoch, std::int64_t batch)
{
    const auto t0 = Clock::now();
    const auto idx = plan_->indices(epoch, batch);
    auto rng = stepRng(cfg_.seed, step_);
    auto x = prepareInputs(data_.train.inputs.index_select(0, idx), cfg_.data.augment, &rng).to(device_);
    if (layout_) x = layout_->input(x);
    const auto y = data_.train.targets.index_select(0, idx).to(device_);
    const double lr = learningRate(cfg_.schedule, cfg_.optimizer.learningRate, step_, total_);
    setLearningRate(*opt_, lr);
    opt_->zero_grad();
    const auto out = model_.forward(x);
    if (!shapesChecked_) {
        if (auto r = checkLossShapes(cfg_.loss, out, y); !r) return r;
        shapesChecked_ = true;
    }
    const auto loss = model_.loss ? model_.loss(out, y) : computeLoss(cfg_.loss, out, y);
    const double lossValue = loss.item<double>();
    const std::int64_t stepNo = step_ + 1;
    if (!std::isfinite(lossValue))
        return divergence(std::string("loss became ") + (std::isnan(lossValue) ? "NaN" : "infinite") + " at step " +
                          std::to_string(stepNo));
    loss.backward();
    double gradNorm = -1;
    if (cfg_.clipGradNorm > 0) {
        gradNorm = torch::nn::utils::clip_grad_norm_(paramTensors_, cfg_.clipGradNorm);
        if (!std::isfinite(gradNorm))
            return divergence("the gradients became NaN or infinite at step " + std::to_string(stepNo));
    }
    opt_->step();
    step_ = summary_.steps = stepNo;

    const auto hits = countHits(cfg_.loss, out.detach(), y);
    epochLossSum_ += lossValue;
    ++epochBatches_;
    epochCorrect_ += hits.correct;
    epochCount_ += hits.count;

    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    ctx_.emitMetric(metric::kTrainLoss, step_, lossValue);
    ctx_.emitMetric(metric::kLearningRate, step_, lr);
    if (secs > 0) ctx_.emitMetric(metric::kThroughput, step_, static_cast<double>(x.size(0)) / secs);
    if (gradNorm >= 0) ctx_.emitMetric(metric::kGradNorm, step_, gradNorm);
    if (hooks_.onStep) hooks_.onStep(step_, lossValue);
    ctx_.report(progress(), "epoch " + std::to_string(epoch + 1) + "/" + std::to_string(cfg_.epochs) + ", step " +
                                std::to_string(step_) + "/" + std::to_string(total_) + ", loss " + fixed(lossValue, 4));
    return success();
}

Result<void> Run::endEpoch(std::int64_t epoch)
{
    EpochReport rep;
    rep.epoch = epoch + 1;
    rep.step = step_;
    rep.trainLoss = epochBatches_ ? epochLossSum_ / static_cast<double>(epochBatches_) : NAN;
    rep.trainAccuracy = epochCount_ ? static_cast<double>(epochCorrect_) / static_cast<double>(epochCount_) : -1;
    const bool images = data_.validation.imageInputs() && cfg_.loss == LossKind::CrossEntropy && !data_.info.classNames.empty();

    if (data_.validation.size() > 0) {
        EvalOptions eo;
        eo.loss = cfg_.loss;
        eo.augment = cfg_.data.augment;
        eo.batchSize = cfg_.evalBatchSize;
        eo.numClasses = static_cast<int>(data_.info.classNames.size());
        eo.keepPredictions = images ? cfg_.previewTiles : 0;
        eo.cancelled = [this] { return cancelled(); };
        auto ev = evaluate(model_, data_.validation, eo);
        if (!ev) return ev.error();
        rep.validation = std::move(*ev);
    }

    ctx_.emitMetric(metric::kEpoch, step_, static_cast<double>(rep.epoch));
    if (epochBatches_) ctx_.emitMetric(metric::kTrainEpochLoss, step_, rep.trainLoss);
    if (rep.trainAccuracy >= 0) ctx_.emitMetric(metric::kTrainAccuracy, step_, rep.trainAccuracy);
    if (rep.validation.items > 0) {
        ctx_.emitMetric(metric::kValLoss, step_, rep.validation.loss);
        if (rep.validation.accuracy >= 0) ctx_.emitMetric(metric::kValAccuracy, step_, rep.validation.accuracy);
        if (data_.info.vocab) ctx_.emitMetric(metric::kValPerplexity, step_, std::exp(rep.validation.loss));
        if (std::isfinite(rep.validation.loss) && rep.validation.loss < bestLoss_) {
            bestLoss_ = rep.validation.loss;
            rep.best = true;
            if (folder_ && cfg_.checkpoint.saveBest) {
                CheckpointRecord rec;
                rec.step = step_;
                rec.epoch = epoch;
                rec.valLoss = bestLoss_;
                auto saved = folder_->saveBest(*model_.module, rec);
                if (!saved) return saved.error();
                summary_.bestCheckpoint = *saved;
            }
        }
    }

    std::string message = "epoch " + std::to_string(rep.epoch) + ": loss " + fixed(rep.trainLoss, 4);
    if (rep.validation.items > 0) message += ", validation loss " + fixed(rep.validation.loss, 4);
    if (rep.validation.accuracy >= 0) message += ", validation accuracy " + fixed(100 * rep.validation.accuracy, 2) + "%";
    if (images && cfg_.previewTiles > 0 && !rep.validation.predictions.empty()) {
        auto grid = std::make_shared<const Preview>(predictionGrid(data_.validation, rep.validation.predictions, cfg_.previewTiles));
        ctx_.emitPreview(*grid);
        rep.predictions = std::move(grid);
    }
    if (data_.info.vocab && cfg_.sampleLength > 0) {
        SampleOptions so;
        so.length = cfg_.sampleLength;
        so.temperature = cfg_.sampleTemperature;
        so.context = static_cast<int>(data_.train.inputs.size(1));
        so.seed = cfg_.seed + static_cast<std::uint64_t>(epoch);
        auto text = sampleText(model_, *data_.info.vocab, cfg_.samplePrompt, so);
        if (!text) return text.error();
        rep.textSample = std::move(*text);
        message += "\nsample: " + rep.textSample;
    }
    ctx_.report(progress(), message);
    // Sent now: the next step's progress line would otherwise replace it within the 30 Hz window.
    ctx_.flush();
    if (hooks_.onEpoch) hooks_.onEpoch(rep);
    summary_.lastEpoch = std::move(rep);
    epochLossSum_ = 0;
    epochBatches_ = epochCorrect_ = epochCount_ = 0;
    return success();
}

Result<void> Run::saveStep(std::int64_t epoch, std::int64_t batchInEpoch)
{
    if (!folder_) return success();
    {
        // An update from a bad gradient can poison the weights while the loss still looked fine;
        // such weights must never replace a good checkpoint.
        torch::NoGradGuard noGrad;
        for (const auto& [name, p] : params_)
            if (!torch::isfinite(p).all().item<bool>())
                return divergence("the parameter " + name + " became NaN or infinite by step " + std::to_string(step_));
    }
    CheckpointRecord rec;
    rec.step = step_;
    rec.epoch = epoch;
    rec.batchInEpoch = batchInEpoch;
    rec.epochLossSum = epochLossSum_;
    rec.epochBatches = epochBatches_;
    rec.epochCorrect = epochCorrect_;
    rec.epochCount = epochCount_;
    auto saved = folder_->saveStep(*model_.module, optimizerState(*opt_, cfg_.optimizer.kind, params_), rec,
                                   cfg_.checkpoint.keepLast);
    if (!saved) return saved.error();
    summary_.lastCheckpoint = *saved;
    lastSavedStep_ = step_;
    return success();
}

Result<TrainSummary> Run::stop(std::int64_t epoch, std::int64_t batchInEpoch)
{
    summary_.cancelled = true;
    if (folder_ && cfg_.checkpoint.saveOnStop && step_ > 0 && step_ != lastSavedStep_)
        if (auto r = saveStep(epoch, batchInEpoch); !r) return r.error();
    ctx_.report(progress(), "stopped at step " + std::to_string(step_) +
                                (summary_.lastCheckpoint.empty() ? std::string() : "; resume from " + summary_.lastCheckpoint));
    return summary_;
}

Result<TrainSummary> Run::run()
{
    if (auto r = setup(); !r) return r.error();
    const auto every = cfg_.checkpoint.everySteps;
    for (std::int64_t epoch = startEpoch_; epoch < cfg_.epochs && step_ < total_; ++epoch) {
        std::int64_t b = epoch == startEpoch_ ? startBatch_ : 0;
        for (; b < batchesPerEpoch_ && step_ < total_; ++b) {
            if (stopRequested()) return stop(epoch, b);
            if (auto r = trainBatch(epoch, b); !r) return r.error();
            if (every > 0 && step_ % every == 0)
                if (auto r = saveStep(epoch, b + 1); !r) return r.error();
        }
        if (auto r = endEpoch(epoch); !r) return cancelled() ? stop(epoch, b) : Result<TrainSummary>(r.error());
        const bool whole = b == batchesPerEpoch_;
        if (whole) ++summary_.epochsCompleted;
        // The epoch's end is always a checkpoint: a resume then starts cleanly at the next one.
        if (auto r = saveStep(whole ? epoch + 1 : epoch, whole ? 0 : b); !r) return r.error();
        if (cancelled()) return stop(whole ? epoch + 1 : epoch, whole ? 0 : b);
    }
    ctx_.report(1.0, "finished after " + std::to_string(step_) + " steps");
    return summary_;
}

}  // namespace

Result<TrainSummary> train(const TrainConfig& config, const TrainModel& model, const TrainData& data, JobContext& ctx,
                           const TrainHooks& hooks)
{
    try {
        Run run(config, model, data, ctx, hooks);
        return run.run();
    } catch (const std::exception& ex) {
        // c10::Error's what() carries a C++ backtrace after the first line; people need the first.
        std::string what = ex.what();
        if (auto nl = what.find('\n'); nl != std::string::npos) what.resize(nl);
        return makeError("training failed: " + what, {}, "check that the model's input matches the dataset");
    }
}

JobBody makeTrainJob(TrainConfig config, TrainModel model, TrainHooks hooks)
{
    return [config = std::move(config), model = std::move(model), hooks = std::move(hooks)](JobContext& ctx) -> Result<void> {
        ctx.report(0, "loading " + std::string(toId(config.data.kind)));
        auto data = loadData(config.data, [&ctx] { return ctx.cancelled(); });
        if (!data) return ctx.cancelled() ? success() : Result<void>(data.error());
        auto summary = train(config, model, *data, ctx, hooks);
        if (!summary) return summary.error();
        if (hooks.onFinished) hooks.onFinished(*summary);
        return success();
    };
}

}  // namespace kiln::train
