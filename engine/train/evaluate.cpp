#include "train/evaluate.h"

#include "train/batches.h"
#include "train/loss.h"

#include <cmath>
#include <random>

namespace kiln::train {

namespace {

// Puts the module back in the mode it had, however the scope is left.
struct ModeGuard {
    torch::nn::Module& m;
    bool wasTraining;
    explicit ModeGuard(torch::nn::Module& module, bool training) : m(module), wasTraining(module.is_training()) { m.train(training); }
    ~ModeGuard() { m.train(wasTraining); }
};

}  // namespace

Result<Evaluation> evaluate(const TrainModel& model, const Dataset& data, const EvalOptions& o)
{
    Evaluation ev;
    const auto n = data.size();
    if (n == 0) return ev;
    try {
        ModeGuard mode(*model.module, false);
        torch::NoGradGuard noGrad;
        const int K = o.loss == LossKind::CrossEntropy ? o.numClasses : 0;
        auto confusion = torch::zeros({std::max(K, 1) * std::max(K, 1)}, torch::kInt64);
        double lossSum = 0;
        std::int64_t correct = 0, counted = 0;
        const std::int64_t bs = std::max(o.batchSize, 1);
        for (std::int64_t start = 0; start < n; start += bs) {
            if (o.cancelled && o.cancelled()) return makeError("the evaluation was cancelled");
            const auto len = std::min(bs, n - start);
            const auto x = prepareInputs(data.inputs.narrow(0, start, len), o.augment, nullptr);
            const auto y = data.targets.narrow(0, start, len);
            const auto out = model.forward(x);
            if (auto shapes = checkLossShapes(o.loss, out, y); !shapes) return shapes.error();
            // Batch means weighted by size, so a short last batch counts for what it holds.
            const auto loss = model.loss ? model.loss(out, y) : computeLoss(o.loss, out, y);
            lossSum += loss.item<double>() * static_cast<double>(len);
            const auto hits = countHits(o.loss, out, y);
            correct += hits.correct;
            counted += hits.count;
            if (K > 0 || static_cast<std::int64_t>(ev.predictions.size()) < o.keepPredictions) {
                const auto pred = out.argmax(-1);
                if (K > 0 && out.dim() == 2) {
                    const auto cell = y.clamp(0, K - 1) * K + pred.clamp(0, K - 1);
                    confusion.index_add_(0, cell, torch::ones_like(cell));
                }
                for (std::int64_t i = 0; i < len && static_cast<std::int64_t>(ev.predictions.size()) < o.keepPredictions; ++i)
                    ev.predictions.push_back(pred.dim() == 1 ? pred[i].item<std::int64_t>() : -1);
            }
        }
        ev.items = n;
        ev.loss = lossSum / static_cast<double>(n);
        ev.accuracy = counted ? static_cast<double>(correct) / static_cast<double>(counted) : -1;
        if (K > 0) {
            ev.numClasses = K;
            const auto* c = confusion.data_ptr<std::int64_t>();
            ev.confusion.assign(c, c + K * K);
            for (int t = 0; t < K; ++t) {
                std::int64_t row = 0;
                for (int p = 0; p < K; ++p) row += c[t * K + p];
                ev.perClassAccuracy.push_back(row ? static_cast<double>(c[t * K + t]) / static_cast<double>(row) : NAN);
            }
        }
        return ev;
    } catch (const std::exception& ex) {
        return makeError(std::string("evaluation failed: ") + ex.what());
    }
}

Result<std::string> sampleText(const TrainModel& model, const CharVocab& vocab, std::string_view prompt,
                               const SampleOptions& o)
{
    if (vocab.size() == 0) return makeError("the vocabulary is empty");
    try {
        ModeGuard mode(*model.module, false);
        torch::NoGradGuard noGrad;
        std::vector<std::int64_t> tokens = vocab.encode(prompt);
        const std::size_t promptTokens = tokens.size();
        if (tokens.empty()) {
            // A model cannot start from nothing; a newline is the most neutral start a text has.
            const auto nl = vocab.encode("\n");
            tokens.push_back(nl.empty() ? 0 : nl.front());
        }
        std::mt19937_64 rng(o.seed);
        std::uniform_real_distribution<double> uniform(0.0, 1.0);
        const auto ctx = static_cast<std::size_t>(std::max(o.context, 1));
        for (int i = 0; i < o.length; ++i) {
            const std::size_t from = tokens.size() > ctx ? tokens.size() - ctx : 0;
            std::vector<std::int64_t> window(tokens.begin() + static_cast<std::ptrdiff_t>(from), tokens.end());
            const auto x = torch::tensor(window, torch::kInt64).unsqueeze(0);
            const auto logits = model.forward(x);
            // A model may have room for more tokens than this text uses (the tiny Llama sample has
            // 128); only the text's own characters can be sampled.
            if (logits.dim() != 3 || logits.size(2) < vocab.size())
                return makeError("a character model must give logits [1, T, V] with V >= " + std::to_string(vocab.size()) +
                                 ", the characters in the text");
            const auto last = logits[0][logits.size(1) - 1].slice(0, 0, vocab.size()).to(torch::kFloat64);
            std::int64_t next = 0;
            if (o.temperature <= 0) {
                next = last.argmax().item<std::int64_t>();
            } else {
                const auto probs = torch::softmax(last / o.temperature, 0).contiguous();
                const auto* p = probs.data_ptr<double>();
                double u = uniform(rng), acc = 0;
                next = probs.numel() - 1;
                for (std::int64_t k = 0; k < probs.numel(); ++k) {
                    acc += p[k];
                    if (u < acc) { next = k; break; }
                }
            }
            tokens.push_back(next);
        }
        // The prompt as the model saw it (characters outside the vocabulary dropped), then the
        // continuation; an invented start token is not part of the text.
        const std::size_t skip = promptTokens ? 0 : 1;
        return vocab.decode({tokens.data() + skip, tokens.size() - skip});
    } catch (const std::exception& ex) {
        return makeError(std::string("sampling failed: ") + ex.what());
    }
}

}  // namespace kiln::train
