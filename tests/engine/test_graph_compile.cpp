// The graph compiler against LibTorch itself: every node type's inferred shape and parameter
// count equal what the compiled module really does; the samples compile, run and train a step;
// parameter names are stable; attention equals the textbook formula computed independently.
#include "graph/compiler.h"  // torch before Qt: see toolchain.md on QT_NO_KEYWORDS

#include "graph_test_support.h"
#include "kiln/graph_file.h"

#include <QTest>
#include <cmath>
#include <set>

using namespace kiln::graph;
using testing::loadSample;

namespace {

std::shared_ptr<CompiledModel> compileOrDie(const Graph& g)
{
    auto m = compileGraph(g);
    if (!m) qFatal("%s", m.error().message().c_str());
    return *m;
}

struct Build : testing::GraphBuilder {
    NodeId tensor(const std::string& name, IntList shape) { return add("node.input_tensor", name, {{"shape", shape}}); }
    NodeId image(const std::string& name, std::int64_t c, std::int64_t h, std::int64_t w)
    {
        return add("node.input_image", name, {{"channels", c}, {"height", h}, {"width", w}});
    }
};

using I = std::int64_t;

// One small graph per node type: inputs, then the node under test named "op".
std::map<std::string, std::function<Graph()>> singleOpGraphs()
{
    std::map<std::string, std::function<Graph()>> all;
    auto unary = [&](const std::string& type, std::function<NodeId(Build&)> input,
                     std::map<std::string, ParamValue> params = {}) {
        all[type] = [=] {
            Build b;
            NodeId x = input(b);
            b.link(x, b.add(type, "op", params), builtinNodes().find(type)->inputs[0].name);
            return b.g;
        };
    };
    auto vec = [](IntList shape) { return [=](Build& b) { return b.tensor("x", shape); }; };
    auto img = [](I c, I h, I w) { return [=](Build& b) { return b.image("x", c, h, w); }; };
    auto alone = [&](const std::string& type, std::map<std::string, ParamValue> params) {
        all[type] = [=] {
            Build b;
            b.add(type, "op", params);
            return b.g;
        };
    };
    alone("node.input_image", {{"channels", I(3)}, {"height", I(5)}, {"width", I(7)}});
    alone("node.input_tokens", {{"vocab", I(11)}, {"length", I(9)}});
    alone("node.input_tensor", {{"shape", IntList{2, 3}}});
    unary("node.conv2d", img(4, 13, 11),
          {{"in_channels", I(4)}, {"out_channels", I(6)}, {"kernel_size", I(3)}, {"stride", I(2)}, {"padding", I(1)},
           {"dilation", I(2)}, {"groups", I(2)}});
    unary("node.conv_transpose2d", img(4, 5, 6),
          {{"in_channels", I(4)}, {"out_channels", I(6)}, {"kernel_size", I(3)}, {"stride", I(2)}, {"padding", I(1)},
           {"output_padding", I(1)}, {"groups", I(2)}});
    unary("node.linear", vec({7, 12}), {{"in_features", I(12)}, {"out_features", I(5)}});
    all["node.embedding"] = [] {
        Build b;
        auto t = b.add("node.input_tokens", "x", {{"vocab", I(20)}, {"length", I(6)}});
        b.link(t, b.add("node.embedding", "op", {{"num_embeddings", I(20)}, {"embedding_dim", I(8)}}));
        return b.g;
    };
    unary("node.attention", vec({6, 16}), {{"dim", I(16)}, {"heads", I(4)}, {"bias", true}});
    unary("node.batchnorm2d", img(4, 6, 6), {{"num_features", I(4)}});
    unary("node.groupnorm", img(6, 5, 5), {{"num_groups", I(3)}, {"num_channels", I(6)}});
    unary("node.layernorm", vec({5, 10}), {{"normalized_shape", I(10)}});
    unary("node.rmsnorm", vec({5, 10}), {{"dim", I(10)}});
    unary("node.dropout", vec({4, 6}));
    for (const char* t : {"node.relu", "node.silu", "node.sigmoid", "node.tanh", "node.leaky_relu"}) unary(t, vec({4, 6}));
    unary("node.gelu", vec({4, 6}), {{"approximate", std::string("tanh")}});
    unary("node.softmax", vec({4, 6}), {{"dim", I(1)}});
    unary("node.maxpool2d", img(3, 9, 10), {{"kernel_size", I(3)}, {"stride", I(2)}, {"padding", I(1)}});
    unary("node.avgpool2d", img(3, 9, 10), {{"kernel_size", I(2)}});
    unary("node.adaptive_avgpool2d", img(3, 9, 10), {{"output_size", I(2)}});
    unary("node.flatten", img(3, 4, 5), {{"start_dim", I(2)}});
    unary("node.reshape", vec({12, 2}), {{"shape", IntList{4, -1, 2}}});
    unary("node.permute", vec({3, 5}), {{"dims", IntList{2, 0, 1}}});
    all["node.concat"] = [] {
        Build b;
        auto p = b.image("p", 3, 4, 4), q = b.image("q", 2, 4, 4), r = b.image("r", 1, 4, 4);
        auto cat = b.add("node.concat", "op", {{"dim", I(-3)}});
        b.link(p, cat, "a");
        b.link(q, cat, "b");
        b.link(r, cat, "d");
        return b.g;
    };
    for (const char* t : {"node.add", "node.multiply"})
        all[t] = [t] {
            Build b;
            auto x = b.tensor("x", {4, 6}), y = b.tensor("y", {1, 6});  // broadcasting
            auto op = b.add(t, "op");
            b.link(x, op, "a");
            b.link(y, op, "b");
            return b.g;
        };
    unary("node.cross_entropy_loss", vec({5, 7}));
    unary("node.mse_loss", vec({5, 7}));
    unary("node.bce_with_logits_loss", vec({5, 7}));
    return all;
}

torch::Tensor randomInput(const Shape& s, std::int64_t batch)
{
    if (s.element == ElementType::Int64) return torch::randint(s.vocab, s.concrete(batch), torch::kLong);
    return torch::randn(s.concrete(batch));
}

std::int64_t numelUnder(torch::nn::Module& m, const std::string& prefix)
{
    std::int64_t n = 0;
    for (const auto& p : m.named_parameters())
        if (prefix.empty() || p.key().rfind(prefix + ".", 0) == 0) n += p.value().numel();
    return n;
}

// softmax(QKᵀ/√d + mask)V with rotary encoding, written with loops over positions and pairs so
// that it shares nothing with the compiled op but the weights. Double precision throughout.
torch::Tensor directAttention(const torch::Tensor& x, std::map<std::string, torch::Tensor> w, std::int64_t heads,
                              bool rope, bool causal, double base)
{
    const auto t = x.size(0), dim = x.size(1), d = dim / heads;
    auto proj = [&](const std::string& n) {
        torch::Tensor y = torch::matmul(x, w[n + ".weight"].t());
        return w.count(n + ".bias") ? y + w[n + ".bias"] : y;
    };
    torch::Tensor q = proj("q"), k = proj("k"), v = proj("v");
    torch::Tensor out = torch::zeros({t, dim}, torch::kFloat64);
    auto qa = q.accessor<double, 2>(), ka = k.accessor<double, 2>(), va = v.accessor<double, 2>();
    auto oa = out.accessor<double, 2>();
    for (std::int64_t h = 0; h < heads; ++h) {
        // Rotate pair (i, i + d/2) of head h at position p by the angle p·base^(-2i/d).
        std::vector<std::vector<double>> qr(t, std::vector<double>(d)), kr = qr;
        for (std::int64_t p = 0; p < t; ++p)
            for (std::int64_t i = 0; i < d; ++i) {
                qr[p][i] = qa[p][h * d + i];
                kr[p][i] = ka[p][h * d + i];
            }
        if (rope)
            for (std::int64_t p = 0; p < t; ++p)
                for (std::int64_t i = 0; i < d / 2; ++i) {
                    const double a = p * std::pow(base, -2.0 * i / d), c = std::cos(a), s = std::sin(a);
                    for (auto* r : {&qr[p], &kr[p]}) {
                        const double x0 = (*r)[i], x1 = (*r)[i + d / 2];
                        (*r)[i] = x0 * c - x1 * s;
                        (*r)[i + d / 2] = x1 * c + x0 * s;
                    }
                }
        for (std::int64_t p = 0; p < t; ++p) {
            std::vector<double> score(t, -INFINITY);
            double top = -INFINITY;
            for (std::int64_t j = 0; j < t; ++j) {
                if (causal && j > p) continue;
                double dot = 0;
                for (std::int64_t i = 0; i < d; ++i) dot += qr[p][i] * kr[j][i];
                score[j] = dot / std::sqrt(static_cast<double>(d));
                top = std::max(top, score[j]);
            }
            double sum = 0;
            for (auto& s : score) sum += (s = std::exp(s - top));
            for (std::int64_t j = 0; j < t; ++j)
                for (std::int64_t i = 0; i < d; ++i) oa[p][h * d + i] += score[j] / sum * va[j][h * d + i];
        }
    }
    torch::Tensor y = torch::matmul(out, w["o.weight"].t());
    return w.count("o.bias") ? y + w["o.bias"] : y;
}

}  // namespace

class TestGraphCompile : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { torch::manual_seed(1234); }

    void everyNodeTypeMatchesTorch_data()
    {
        QTest::addColumn<QString>("type");
        const auto graphs = singleOpGraphs();
        for (const NodeType* t : builtinNodes().all()) {
            QVERIFY2(graphs.count(t->id), ("no shape test for " + t->id).c_str());
            QTest::newRow(t->id.c_str()) << QString::fromStdString(t->id);
        }
    }
    void everyNodeTypeMatchesTorch()
    {
        QFETCH(QString, type);
        const Graph g = singleOpGraphs().at(type.toStdString())();
        const GraphInfo info = inferShapes(g);
        QVERIFY2(info.ok(), info.ok() ? "" : info.firstError->message().c_str());
        auto model = compileOrDie(g);
        std::vector<torch::Tensor> inputs;
        for (const auto& s : model->inputShapes()) inputs.push_back(randomInput(s, 3));
        const torch::Tensor y = model->forward(inputs);
        const NodeId op = g.nodeByName("op")->id;
        const NodeInfo& ni = *info.node(op);
        if (info.loss) {  // the loss's prediction is its input; the loss itself is a scalar
            QCOMPARE(y.sizes().vec(), info.loss->prediction.concrete(3));
            const Shape& ts = info.loss->target;
            torch::Tensor target = ts.element == ElementType::Int64 ? torch::randint(ts.vocab, ts.concrete(3), torch::kLong)
                                                                    : torch::rand(ts.concrete(3));
            const torch::Tensor loss = model->loss(y, target);
            QCOMPARE(loss.dim(), std::int64_t(0));
            QVERIFY(std::isfinite(loss.item<double>()));
        } else {
            QCOMPARE(y.sizes().vec(), ni.outputs[0].concrete(3));
            QCOMPARE(y.is_floating_point(), ni.outputs[0].element == ElementType::Float);
        }
        QCOMPARE(numelUnder(*model, "op"), static_cast<std::int64_t>(ni.params));
        QCOMPARE(numelUnder(*model, ""), static_cast<std::int64_t>(info.totalParams));
    }

    void samplesCompileRunAndLearn_data()
    {
        QTest::addColumn<QString>("name");
        for (const char* n : {"fashion_convnet", "mlp", "resnet_small", "tiny_llama"}) QTest::newRow(n) << n;
    }
    void samplesCompileRunAndLearn()
    {
        QFETCH(QString, name);
        const Graph g = loadSample(name.toStdString());
        auto model = compileOrDie(g);
        const GraphInfo& info = model->info();
        QCOMPARE(model->inputNames().size(), std::size_t(1));
        QCOMPARE(numelUnder(*model, ""), static_cast<std::int64_t>(info.totalParams));
        const torch::Tensor x = randomInput(model->inputShapes()[0], 4);
        const Shape& ts = info.loss->target;
        const torch::Tensor target = torch::randint(ts.vocab, ts.concrete(4), torch::kLong);
        torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(1e-2));
        double first = 0, last = 0;
        for (int step = 0; step < 8; ++step) {  // one batch, learned by heart: the loss must fall
            opt.zero_grad();
            const torch::Tensor y = model->forward(x);
            QCOMPARE(y.sizes().vec(), info.loss->prediction.concrete(4));
            torch::Tensor loss = model->loss(y, target);
            loss.backward();
            opt.step();
            (step == 0 ? first : last) = loss.item<double>();
        }
        QVERIFY2(last < first, qPrintable(QString("%1 -> %2").arg(first).arg(last)));
        model->eval();
        torch::NoGradGuard noGrad;
        QVERIFY(torch::equal(model->forward(x), model->forward(x)));
    }

    void tokenInputsTakeShorterSequences()
    {
        auto model = compileOrDie(loadSample("tiny_llama"));
        model->eval();
        torch::NoGradGuard noGrad;
        const torch::Tensor prompt = torch::randint(128, {1, 10}, torch::kLong);
        QCOMPARE(model->forward(prompt).sizes().vec(), (std::vector<std::int64_t>{1, 10, 128}));
        // Causal: the scores for the first 10 positions do not depend on what follows them.
        const torch::Tensor longer = torch::cat({prompt, torch::randint(128, {1, 5}, torch::kLong)}, 1);
        QVERIFY(torch::allclose(model->forward(longer).narrow(1, 0, 10), model->forward(prompt), 1e-5, 1e-5));
        QVERIFY_THROWS_EXCEPTION(c10::Error, model->forward(torch::randint(128, {1, 65}, torch::kLong)));
        QVERIFY_THROWS_EXCEPTION(c10::Error, model->forward(torch::randn({1, 10})));
    }

    void parameterNamesAreStable()
    {
        const Graph g = loadSample("fashion_convnet");
        auto names = [](torch::nn::Module& m) {
            std::vector<std::string> out;
            for (const auto& p : m.named_parameters()) out.push_back(p.key());
            return out;
        };
        auto a = compileOrDie(g), b = compileOrDie(g);
        const std::vector<std::string> expected = {
            "conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias", "conv2.weight", "conv2.bias",
            "bn2.weight",   "bn2.bias",   "conv3.weight", "conv3.bias", "bn3.weight", "bn3.bias",
            "fc1.weight",   "fc1.bias",   "fc2.weight", "fc2.bias"};
        QCOMPARE(names(*a), expected);
        QCOMPARE(names(*b), expected);
        std::vector<std::string> buffers;
        for (const auto& p : a->named_buffers()) buffers.push_back(p.key());
        QCOMPARE(buffers.size(), std::size_t(9));
        QCOMPARE(buffers[0], std::string("bn1.running_mean"));
        QCOMPARE(buffers[2], std::string("bn1.num_batches_tracked"));
        QCOMPARE(a->named_parameters()["conv2.weight"].sizes().vec(), (std::vector<std::int64_t>{32, 16, 3, 3}));
        QCOMPARE(a->named_parameters()["fc1.weight"].sizes().vec(), (std::vector<std::int64_t>{128, 3136}));
        // Node order in the file and ids do not change the names.
        Graph shuffled;
        for (auto it = g.nodes.rbegin(); it != g.nodes.rend(); ++it) shuffled.addNode(*it);
        shuffled.edges = g.edges;
        auto c = compileOrDie(shuffled);
        std::set<std::string> sa(expected.begin(), expected.end());
        auto nc = names(*c);
        QCOMPARE(std::set<std::string>(nc.begin(), nc.end()), sa);
        const auto llama = names(*compileOrDie(loadSample("tiny_llama")));
        for (const char* key : {"tok_embed.weight", "b1_attn.q.weight", "b1_attn.o.weight", "b2_attn_norm.weight",
                                "b2_down.weight", "lm_head.weight"})
            QVERIFY2(std::find(llama.begin(), llama.end(), key) != llama.end(), key);
    }

    void attentionIsTheStandardFormula_data()
    {
        QTest::addColumn<bool>("rope");
        QTest::addColumn<bool>("causal");
        QTest::addColumn<bool>("bias");
        QTest::newRow("rope causal") << true << true << false;
        QTest::newRow("rope, bias") << true << false << true;
        QTest::newRow("plain causal") << false << true << true;
    }
    void attentionIsTheStandardFormula()
    {
        QFETCH(bool, rope);
        QFETCH(bool, causal);
        QFETCH(bool, bias);
        const std::int64_t t = 7, dim = 24, heads = 3;
        Build b;
        auto x = b.tensor("x", {t, dim});
        auto attn = b.add("node.attention", "attn", {{"dim", dim}, {"heads", heads}, {"rope", rope}, {"causal", causal},
                                                     {"bias", bias}, {"rope_base", 100.0}});
        b.link(x, attn);
        auto model = compileOrDie(b.g);
        model->to(torch::kFloat64);
        std::map<std::string, torch::Tensor> w;
        for (const auto& p : model->named_parameters()) w[p.key().substr(std::string("attn.").size())] = p.value().detach();
        QCOMPARE(w.size(), std::size_t(bias ? 8 : 4));
        const torch::Tensor input = torch::randn({2, t, dim}, torch::kFloat64);
        torch::NoGradGuard noGrad;
        const torch::Tensor got = model->forward(input);
        for (std::int64_t s = 0; s < 2; ++s) {
            const torch::Tensor want = directAttention(input[s], w, heads, rope, causal, 100.0);
            const double err = (got[s] - want).abs().max().item<double>();
            QVERIFY2(err < 1e-5, qPrintable(QString::number(err)));
        }
        // The reference is sensitive to both switches, so agreeing with it means something.
        for (auto [r, c] : {std::pair{!rope, causal}, std::pair{rope, !causal}})
            QVERIFY((got[0] - directAttention(input[0], w, heads, r, c, 100.0)).abs().max().item<double>() > 1e-3);
        // The same in float32, as training runs it.
        model->to(torch::kFloat32);
        const double err32 = (model->forward(input.to(torch::kFloat32)).to(torch::kFloat64) -
                              directAttention(input[0], w, heads, rope, causal, 100.0).unsqueeze(0))
                                 .narrow(0, 0, 1).abs().max().item<double>();
        QVERIFY2(err32 < 1e-5, qPrintable(QString::number(err32)));
    }

    void dropoutAndBatchNormFollowTrainAndEval()
    {
        auto model = compileOrDie(loadSample("fashion_convnet"));
        const torch::Tensor x = torch::randn({8, 1, 28, 28});
        torch::NoGradGuard noGrad;
        const torch::Tensor mean0 = model->named_buffers()["bn1.running_mean"].clone();
        model->eval();
        QVERIFY(torch::equal(model->forward(x), model->forward(x)));
        QVERIFY(torch::equal(model->named_buffers()["bn1.running_mean"], mean0));
        model->train();
        QVERIFY(!torch::equal(model->forward(x), model->forward(x)));  // dropout p = 0.3
        QVERIFY(!torch::equal(model->named_buffers()["bn1.running_mean"], mean0));
        QCOMPARE(model->named_buffers()["bn1.num_batches_tracked"].item<std::int64_t>(), std::int64_t(2));
    }

    void lossesMatchTorch()
    {
        namespace F = torch::nn::functional;
        const torch::Tensor pred = torch::randn({6, 5});
        Build b;
        auto x = b.tensor("x", {5});
        auto loss = b.add("node.cross_entropy_loss", "loss", {{"label_smoothing", 0.1}});
        b.link(x, loss, "prediction");
        auto ce = compileOrDie(b.g);
        QCOMPARE(ce->lossKind(), LossKind::CrossEntropy);
        QCOMPARE(ce->targetName(), std::string("labels"));
        const torch::Tensor labels = torch::randint(5, {6}, torch::kLong);
        QVERIFY(torch::allclose(ce->loss(pred, labels),
                                F::cross_entropy(pred, labels, F::CrossEntropyFuncOptions().label_smoothing(0.1))));
        QVERIFY_THROWS_EXCEPTION(c10::Error, ce->loss(pred, torch::randint(5, {5}, torch::kLong)));
        b.g.node(loss)->type = "node.mse_loss";
        b.g.node(loss)->params = {{"target", std::string("y")}};
        auto mse = compileOrDie(b.g);
        const torch::Tensor y = torch::rand({6, 5});
        QVERIFY(torch::allclose(mse->loss(pred, y), F::mse_loss(pred, y)));
        QCOMPARE(mse->targetName(), std::string("y"));
        b.g.node(loss)->type = "node.bce_with_logits_loss";
        auto bce = compileOrDie(b.g);
        QVERIFY(torch::allclose(bce->loss(pred, y.round()), F::binary_cross_entropy_with_logits(pred, y.round())));
        b.g.removeNode(loss);
        auto none = compileOrDie(b.g);
        QCOMPARE(none->lossKind(), LossKind::None);
        QVERIFY_THROWS_EXCEPTION(c10::Error, none->loss(pred, y));
    }

    void compileRefusesBrokenGraphs()
    {
        Graph g = loadSample("fashion_convnet");
        g.nodeByName("fc1")->params["in_features"] = std::int64_t(1024);
        auto r = compileGraph(g);
        QVERIFY(!r.ok());
        QVERIFY(r.error().message().rfind("fc1: Linear expects in_features = 3136", 0) == 0);
        Build b;
        auto x = b.tensor("x", {4});
        b.link(x, b.add("node.relu", "a"));
        b.link(x, b.add("node.tanh", "b"));
        auto two = compileGraph(b.g);
        QVERIFY(!two.ok());
        QVERIFY2(two.error().message().find("2 outputs (a, b)") != std::string::npos, two.error().message().c_str());
        QVERIFY(!compileGraph(Graph{}).ok());
        // A node type the compiler has no builder for (a plugin's, say) is named.
        NodeRegistry nodes;
        registerBuiltinNodes(nodes);
        NodeType custom = *nodes.find("node.relu");
        custom.id = "node.custom_relu";
        custom.displayName = "Custom ReLU";
        QVERIFY(nodes.add(custom).ok());
        Build c;
        auto y = c.tensor("y", {4});
        auto op = c.add("node.relu", "mine");
        c.g.node(op)->type = "node.custom_relu";
        c.link(y, op);
        auto missing = compileGraph(c.g, nodes);
        QVERIFY(!missing.ok());
        QVERIFY2(missing.error().message().find("mine: this Kiln cannot run Custom ReLU nodes") == 0,
                 missing.error().message().c_str());
    }
};

QTEST_GUILESS_MAIN(TestGraphCompile)
#include "test_graph_compile.moc"
