// The graph without torch: node types, shape inference and its messages, editing helpers, and the
// .kgraph reader (round trips, migration, and every kind of bad file). Torch-side checks (shapes
// against real tensors, parameter names, attention numbers) are in test_graph_compile.cpp.
#include "graph_test_support.h"
#include "kiln/graph_file.h"
#include "kiln/graph_infer.h"

#include <QTemporaryDir>
#include <QTest>
#include <filesystem>
#include <fstream>

using namespace kiln::graph;
using testing::loadSample;
using testing::samplePath;

namespace {

std::string readText(const std::string& path)
{
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), {}};
}

// A graph built node by node, as the editor does.
using Build = testing::GraphBuilder;

std::string errorOf(const kiln::Result<Graph>& r) { return r ? std::string("(accepted)") : r.error().message(); }

}  // namespace

class TestGraph : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void registryHasEveryOp()
    {
        const std::vector<std::string> ids = {
            "node.input_image", "node.input_tokens", "node.input_tensor", "node.conv2d", "node.conv_transpose2d",
            "node.linear", "node.batchnorm2d", "node.groupnorm", "node.layernorm", "node.rmsnorm", "node.dropout",
            "node.relu", "node.gelu", "node.silu", "node.sigmoid", "node.tanh", "node.leaky_relu", "node.softmax",
            "node.maxpool2d", "node.avgpool2d", "node.adaptive_avgpool2d", "node.flatten", "node.reshape",
            "node.permute", "node.add", "node.multiply", "node.concat", "node.embedding", "node.attention",
            "node.cross_entropy_loss", "node.mse_loss", "node.bce_with_logits_loss"};
        const NodeRegistry& r = builtinNodes();
        QCOMPARE(r.size(), ids.size());
        for (const auto& id : ids) {
            const NodeType* t = r.find(id);
            QVERIFY2(t, id.c_str());
            QVERIFY(!t->category.empty() && !t->displayName.empty() && !t->description.empty());
            QVERIFY(isValidNodeName(t->nameStem + "1"));
            for (const auto& p : t->params) QVERIFY2(!p.help.empty(), (id + "." + p.name).c_str());
        }
        // A plugin's registry starts from the built-ins and may not take their ids.
        NodeRegistry mine;
        registerBuiltinNodes(mine);
        QVERIFY(!mine.add(*r.find("node.relu")).ok());
        NodeType custom = *r.find("node.relu");
        custom.id = "node.my_relu";
        QVERIFY(mine.add(custom).ok());
        custom.id = "my_relu";
        QVERIFY(!mine.add(custom).ok());
    }

    void samplesInferWithoutErrors_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<qulonglong>("params");
        QTest::newRow("convnet") << "fashion_convnet" << qulonglong(426346);
        QTest::newRow("mlp") << "mlp" << qulonglong(235146);
        QTest::newRow("resnet") << "resnet_small" << qulonglong(19706);
        QTest::newRow("llama") << "tiny_llama" << qulonglong(117056);
    }
    void samplesInferWithoutErrors()
    {
        QFETCH(QString, name);
        QFETCH(qulonglong, params);
        const Graph g = loadSample(name.toStdString());
        const GraphInfo info = inferShapes(g);
        QVERIFY2(info.ok(), info.ok() ? "" : info.firstError->message().c_str());
        QCOMPARE(info.order.size(), g.nodes.size());
        for (const auto& [id, ni] : info.nodes) QCOMPARE(ni.status, NodeStatus::Ok);
        for (const auto& e : info.edges) QVERIFY(e.has_value());
        QCOMPARE(info.totalParams, params);
        QVERIFY(info.totalFlops > 0);
        QVERIFY(info.loss.has_value());
        QCOMPARE(info.loss->kind, LossKind::CrossEntropy);
        QVERIFY(!g.description.empty());
    }

    void convnetShapesAndCounts()
    {
        const Graph g = loadSample("fashion_convnet");
        const GraphInfo info = inferShapes(g);
        auto out = [&](const char* name) { return formatShape(info.node(g.nodeByName(name)->id)->outputs[0]); };
        QCOMPARE(out("conv1"), std::string("[B, 16, 28, 28]"));
        QCOMPARE(out("pool1"), std::string("[B, 16, 14, 14]"));
        QCOMPARE(out("relu3"), std::string("[B, 64, 7, 7]"));
        QCOMPARE(out("flatten"), std::string("[B, 3136]"));
        QCOMPARE(out("fc2"), std::string("[B, 10]"));
        // conv1: 16 filters of 1×3×3 plus biases; 2 FLOPs per multiply-add at every output pixel.
        const NodeInfo* conv1 = info.node(g.nodeByName("conv1")->id);
        QCOMPARE(conv1->params, std::uint64_t(16 * 9 + 16));
        QCOMPARE(conv1->flops, 2.0 * 16 * 28 * 28 * 9);
        QCOMPARE(info.node(g.nodeByName("fc1")->id)->params, std::uint64_t(3136 * 128 + 128));
        QCOMPARE(formatShape(info.loss->target), std::string("[B]"));
        QCOMPARE(info.loss->target.element, ElementType::Int64);
        QCOMPARE(info.loss->targetName, std::string("labels"));
        const Graph llama = loadSample("tiny_llama");
        const GraphInfo li = inferShapes(llama);
        QCOMPARE(formatShape(li.loss->prediction), std::string("[B, 64, 128]"));
        QCOMPARE(formatShape(li.loss->target), std::string("[B, 64]"));
        QCOMPARE(li.loss->targetName, std::string("next_tokens"));
    }

    void wrongLinearInFeaturesSaysWhyAndHowToFix()
    {
        Graph g = loadSample("fashion_convnet");
        g.nodeByName("fc1")->params["in_features"] = std::int64_t(1024);
        const GraphInfo info = inferShapes(g);
        QVERIFY(!info.ok());
        QCOMPARE(info.firstErrorNode, g.nodeByName("fc1")->id);
        const std::string msg = info.firstError->message();
        QVERIFY2(msg.find("fc1: Linear expects in_features = 3136 (64×7×7 from the Flatten before it) but is set "
                          "to 1024") == 0, msg.c_str());
        QCOMPARE(info.firstError->hint, std::string("set in_features to 3136"));
        auto status = [&](const char* n) { return info.node(g.nodeByName(n)->id)->status; };
        QCOMPARE(status("fc1"), NodeStatus::Error);
        for (const char* n : {"gelu", "dropout", "fc2", "loss"}) QCOMPARE(status(n), NodeStatus::Unknown);
        for (const char* n : {"image", "conv3", "flatten"}) QCOMPARE(status(n), NodeStatus::Ok);
        QVERIFY(!info.node(g.nodeByName("gelu")->id)->error.has_value());
        QVERIFY(!info.loss.has_value());
        // The edge into fc1 still shows its shape; the one out of it does not.
        for (std::size_t k = 0; k < g.edges.size(); ++k) {
            if (g.edges[k].to.node == g.nodeByName("fc1")->id) QCOMPARE(formatShape(*info.edges[k]), std::string("[B, 3136]"));
            if (g.edges[k].from.node == g.nodeByName("fc1")->id) QVERIFY(!info.edges[k].has_value());
        }
    }

    void shapeMessages_data()
    {
        QTest::addColumn<QString>("case_");
        QTest::addColumn<QString>("expected");
        QTest::newRow("conv channels") << "conv" << "Conv2d expects in_channels = 3 (dimension 1 of [B, 3, 8, 8] from the Image input before it) but is set to 1";
        QTest::newRow("add shapes") << "add" << "Add needs inputs of the same shape, but input a [B, 4] from x and input b [B, 5] from y differ in dimension 1 (4 vs 5)";
        QTest::newRow("embedding floats") << "embed" << "Embedding looks up token ids but gets float values [B, 4]";
        QTest::newRow("conv on vectors") << "rank" << "Conv2d expects a 4-D input [B, C, H, W] but gets [B, 4]";
        QTest::newRow("reshape count") << "reshape" << "Reshape to [3, 3] holds 9 values per sample but the input [B, 4] from the Tensor input before it holds 4";
        QTest::newRow("kernel too big") << "kernel" << "Conv2d would leave nothing";
        QTest::newRow("heads") << "heads" << "dim (16) must be divisible by heads (3)";
        QTest::newRow("param range") << "range" << "'kernel_size' is 0, below the smallest allowed value";
        QTest::newRow("bad name") << "name" << "the name '2conv' is not usable";
        QTest::newRow("duplicate name") << "dup" << "another node is also named 'x'";
        QTest::newRow("two losses") << "losses" << "the graph already has a loss";
        QTest::newRow("concat ranks") << "concat" << "Concat joins along dimension 2 and needs every other dimension equal, but input b is [B, 4]";
    }
    void shapeMessages()
    {
        QFETCH(QString, case_);
        QFETCH(QString, expected);
        Build b;
        const std::string c = case_.toStdString();
        if (c == "conv" || c == "kernel" || c == "range" || c == "name") {
            auto in = b.add("node.input_image", "img", {{"channels", std::int64_t(3)}, {"height", std::int64_t(8)}, {"width", std::int64_t(8)}});
            auto conv = b.add("node.conv2d", c == "name" ? "2conv" : "conv", {{"in_channels", std::int64_t(c == "conv" ? 1 : 3)}});
            if (c == "kernel") b.g.node(conv)->params["kernel_size"] = std::int64_t(11);
            if (c == "range") b.g.node(conv)->params["kernel_size"] = std::int64_t(0);
            b.link(in, conv);
        } else if (c == "add" || c == "losses") {
            auto x = b.add("node.input_tensor", "x", {{"shape", IntList{4}}});
            auto y = b.add("node.input_tensor", "y", {{"shape", IntList{c == "add" ? 5 : 4}}});
            auto add = b.add("node.add", "sum");
            b.link(x, add, "a");
            b.link(y, add, "b");
            if (c == "losses") {
                auto l1 = b.add("node.mse_loss", "loss1");
                auto l2 = b.add("node.mse_loss", "loss2");
                b.link(add, l1, "prediction");
                b.link(add, l2, "prediction");
            }
        } else if (c == "concat") {  // found by fuzz_kgraph: a shorter second input was read past its end
            auto x = b.add("node.input_tensor", "x", {{"shape", IntList{2, 3}}});
            auto y = b.add("node.input_tensor", "y", {{"shape", IntList{4}}});
            auto cat = b.add("node.concat", "cat", {{"dim", std::int64_t(2)}});
            b.link(x, cat, "a");
            b.link(y, cat, "b");
        } else if (c == "embed" || c == "rank" || c == "reshape" || c == "heads" || c == "dup") {
            auto x = b.add("node.input_tensor", "x", {{"shape", IntList{c == "heads" ? 16 : 4}}});
            NodeId op = kNoNode;
            if (c == "embed") op = b.add("node.embedding", "emb");
            if (c == "rank") op = b.add("node.conv2d", "conv");
            if (c == "reshape") op = b.add("node.reshape", "r", {{"shape", IntList{3, 3}}});
            if (c == "dup") op = b.add("node.relu", "x");
            if (c == "heads") {
                b.g.node(x)->params["shape"] = IntList{5, 16};
                op = b.add("node.attention", "attn", {{"dim", std::int64_t(16)}, {"heads", std::int64_t(3)}});
            }
            b.link(x, op);
        }
        const GraphInfo info = inferShapes(b.g);
        QVERIFY(!info.ok());
        const std::string msg = info.firstError->message();
        QVERIFY2(msg.find(expected.toStdString()) != std::string::npos, msg.c_str());
        QVERIFY(!info.firstError->hint.empty());
    }

    void cyclesNameTheirNodes()
    {
        Build b;
        auto x = b.add("node.input_tensor", "x", {{"shape", IntList{8}}});
        auto add = b.add("node.add", "mix");
        auto fc = b.add("node.linear", "fc", {{"in_features", std::int64_t(8)}, {"out_features", std::int64_t(8)}});
        auto act = b.add("node.relu", "act");
        auto after = b.add("node.relu", "after");
        b.link(x, add, "a");
        b.link(add, fc);
        b.link(fc, act);
        b.link(act, after);
        QVERIFY(b.g.createsCycle(act, add));
        QVERIFY(!b.g.createsCycle(x, act));
        auto refused = canConnect(b.g, builtinNodes(), {{act, "out"}, {add, "b"}});
        QVERIFY(!refused.ok());
        QVERIFY2(refused.error().what.find("loop") != std::string::npos, refused.error().what.c_str());
        QVERIFY(canConnect(b.g, builtinNodes(), {{x, "out"}, {add, "b"}}).ok());
        QVERIFY(!canConnect(b.g, builtinNodes(), {{x, "out"}, {add, "c"}}).ok());
        b.link(act, add, "b");  // a file or a bug may still hold one
        const GraphInfo info = inferShapes(b.g);
        QVERIFY(!info.ok());
        const std::string msg = info.firstError->message();
        QVERIFY2(msg.find("is part of a loop: mix → fc → act → mix") != std::string::npos, msg.c_str());
        for (auto id : {add, fc, act}) QCOMPARE(info.node(id)->status, NodeStatus::Error);
        QCOMPARE(info.node(x)->status, NodeStatus::Ok);
        QCOMPARE(info.node(after)->status, NodeStatus::Unknown);
        QCOMPARE(info.order.size(), std::size_t(1));
        // A node feeding itself.
        Build s;
        auto r = s.add("node.relu", "self");
        s.link(r, r);
        QVERIFY(inferShapes(s.g).firstError->message().find("self → self") != std::string::npos);
    }

    void unconnectedInputsAreErrors()
    {
        Build b;
        auto x = b.add("node.input_tensor", "x", {{"shape", IntList{8}}});
        auto add = b.add("node.add", "sum");
        auto act = b.add("node.relu", "act");
        auto lone = b.add("node.linear", "lone", {{"in_features", std::int64_t(8)}});
        b.link(x, add, "a");
        b.link(add, act);
        const GraphInfo info = inferShapes(b.g);
        QCOMPARE(info.firstErrorNode, add);
        QCOMPARE(info.firstError->message(), std::string("sum: input 'b' is not connected (connect an output to it)"));
        QCOMPARE(info.node(act)->status, NodeStatus::Unknown);
        QCOMPARE(info.node(lone)->error->message(), std::string("lone: its input is not connected (connect an output to it)"));
        // Concat's third and fourth inputs are optional.
        Build c;
        auto p = c.add("node.input_image", "p");
        auto q = c.add("node.input_image", "q");
        auto cat = c.add("node.concat", "cat");
        c.link(p, cat, "a");
        c.link(q, cat, "b");
        const GraphInfo ci = inferShapes(c.g);
        QVERIFY(ci.ok());
        QCOMPARE(formatShape(ci.node(cat)->outputs[0]), std::string("[B, 2, 28, 28]"));
    }

    void editingHelpers()
    {
        Graph g;
        auto a = addNodeOfType(g, builtinNodes(), "node.conv2d", 10, 20);
        auto b = addNodeOfType(g, builtinNodes(), "node.conv2d");
        QVERIFY(a.ok() && b.ok());
        QCOMPARE(g.node(*a)->name, std::string("conv1"));
        QCOMPARE(g.node(*b)->name, std::string("conv2"));
        QCOMPARE(g.node(*a)->params.size(), builtinNodes().find("node.conv2d")->params.size());
        QCOMPARE(g.node(*a)->x, 10.0f);
        QVERIFY(!addNodeOfType(g, builtinNodes(), "node.nope").ok());
        g.connect({{*a, "out"}, {*b, "in"}});
        auto c = addNodeOfType(g, builtinNodes(), "node.relu");
        g.connect({{*c, "out"}, {*b, "in"}});  // replaces the edge into conv2.in
        QCOMPARE(g.edges.size(), std::size_t(1));
        QCOMPARE(g.edgeInto({*b, "in"})->from.node, *c);
        QVERIFY(g.removeNode(*c));
        QVERIFY(g.edges.empty());
        QVERIFY(!g.removeNode(*c));
        auto d = addNodeOfType(g, builtinNodes(), "node.relu");
        QVERIFY(*d > *c);  // ids are never handed out twice
        QVERIFY(isValidNodeName("conv_1") && !isValidNodeName("conv.1") && !isValidNodeName("") &&
                !isValidNodeName("1x"));

        // sameNetwork ignores ids, positions and order.
        Graph s = loadSample("mlp");
        Graph t;
        for (auto it = s.nodes.rbegin(); it != s.nodes.rend(); ++it) {
            Node n = *it;
            n.id = 100 + n.id;
            n.x += 5;
            t.addNode(n);
        }
        for (auto it = s.edges.rbegin(); it != s.edges.rend(); ++it)
            t.connect({{it->from.node + 100, it->from.port}, {it->to.node + 100, it->to.port}});
        QVERIFY(sameNetwork(s, t));
        QVERIFY(!(s == t));
        t.nodeByName("fc2")->params["out_features"] = std::int64_t(64);
        QVERIFY(!sameNetwork(s, t));
    }

    void samplesRoundTrip_data()
    {
        QTest::addColumn<QString>("name");
        for (const char* n : {"fashion_convnet", "mlp", "resnet_small", "tiny_llama"}) QTest::newRow(n) << n;
    }
    void samplesRoundTrip()
    {
        QFETCH(QString, name);
        const Graph g = loadSample(name.toStdString());
        // Saving a shipped sample reproduces it byte for byte: the samples are in canonical form.
        QCOMPARE(graphToJson(g), readText(samplePath(name.toStdString())));
        QTemporaryDir dir;
        const std::string path = dir.filePath("copy.kgraph").toStdString();
        QVERIFY(saveGraph(g, path).ok());
        auto back = loadGraph(path);
        QVERIFY2(back.ok(), errorOf(back).c_str());
        QVERIFY(*back == g);
        QCOMPARE(std::distance(std::filesystem::directory_iterator(dir.path().toStdString()), {}), 1L);
    }

    void everyValueKindRoundTrips()
    {
        Build b;
        auto x = b.add("node.input_tensor", "x", {{"shape", IntList{2, 3, 4}}});
        auto p = b.add("node.permute", "p", {{"dims", IntList{0, -1, 2, 1}}});
        auto g = b.add("node.gelu", "g", {{"approximate", std::string("tanh")}});
        auto d = b.add("node.dropout", "d", {{"p", 0.1}});
        auto l = b.add("node.leaky_relu", "l", {{"negative_slope", 1.0 / 3.0}});
        b.link(x, p);
        b.link(p, g);
        b.link(g, d);
        b.link(d, l);
        b.g.node(x)->x = 0.1f;
        b.g.node(x)->y = -12345.678f;
        b.g.description = "ünïcödé \"quoted\"\nline";
        auto back = parseGraph(graphToJson(b.g));
        QVERIFY2(back.ok(), errorOf(back).c_str());
        QVERIFY(*back == b.g);
        QCOMPARE(back->nextId(), b.g.nextId());
        QVERIFY(inferShapes(*back).ok());
    }

    void version1Migrates()
    {
        auto v1 = loadGraph(std::string(KILN_TEST_DATA) + "/graphs/mlp_v1.kgraph");
        QVERIFY2(v1.ok(), errorOf(v1).c_str());
        QVERIFY(*v1 == loadSample("mlp"));  // parameters and positions survive the migration
        QCOMPARE(std::get<std::int64_t>(v1->nodeByName("fc1")->params.at("in_features")), std::int64_t(784));
        QCOMPARE(v1->nodeByName("fc2")->y, 450.0f);
        QVERIFY(graphToJson(*v1).find("\"version\": 2") != std::string::npos);
    }

    void badFilesAreRefusedWithAMessage_data()
    {
        QTest::addColumn<QString>("json");
        QTest::addColumn<QString>("expected");
        const std::string head = R"({"format":"kiln.graph","version":2,)";
        auto row = [&](const char* name, const std::string& body, const char* expected) {
            QTest::newRow(name) << QString::fromStdString(body) << expected;
        };
        const std::string relu = R"({"id":1,"type":"node.relu","name":"r"})";
        row("empty", "", "is not valid JSON");
        row("garbage", "\x01\x02garbage\xff", "is not valid JSON");
        row("array", "[1,2]", "is not a Kiln graph");
        row("other format", R"({"format":"other","version":1,"nodes":[]})", "is not a Kiln graph");
        row("no version", R"({"format":"kiln.graph","nodes":[]})", "has no valid format version");
        row("future", R"({"format":"kiln.graph","version":99,"nodes":[]})",
            "was made by a newer Kiln (graph format version 99; this Kiln reads versions up to 2) (update Kiln");
        row("no nodes", head + R"("edges":[]})", "lists no nodes");
        row("unknown op", head + R"("nodes":[{"id":4,"type":"node.quantum","name":"q1"}]})",
            "node 'q1' has the unknown node type 'node.quantum'");
        row("bad id", head + R"("nodes":[{"id":-3,"type":"node.relu","name":"r"}]})", "node 'r' has no valid id");
        row("bad name", head + R"("nodes":[{"id":1,"type":"node.relu","name":"a b"}]})", "has no usable name");
        row("dup id", head + R"("nodes":[)" + relu + R"(,{"id":1,"type":"node.relu","name":"s"}]})", "two nodes have the id 1");
        row("dup name", head + R"("nodes":[)" + relu + R"(,{"id":2,"type":"node.relu","name":"r"}]})", "two nodes are named 'r'");
        row("param type", head + R"("nodes":[{"id":1,"type":"node.conv2d","name":"c","parameters":{"kernel_size":"three"}}]})",
            "node 'c': parameter 'kernel_size' must be a whole number");
        row("param range", head + R"("nodes":[{"id":1,"type":"node.conv2d","name":"c","parameters":{"kernel_size":0}}]})",
            "'kernel_size' is 0, below the smallest allowed value (use at least 1)");
        row("param choice", head + R"("nodes":[{"id":1,"type":"node.gelu","name":"g","parameters":{"approximate":"fast"}}]})",
            "not one of its choices");
        row("unknown param", head + R"("nodes":[{"id":1,"type":"node.relu","name":"r","parameters":{"alpha":1}}]})",
            "ReLU has no parameter 'alpha'");
        row("position", head + R"("nodes":[{"id":1,"type":"node.relu","name":"r","position":[1]}]})", "position must be [x, y]");
        row("edge to nowhere", head + R"("nodes":[)" + relu + R"(],"edges":[{"from":{"node":1,"port":"out"},"to":{"node":9,"port":"in"}}]})",
            "connection #1 names node id 9, which is not in the file");
        row("edge bad port", head + R"("nodes":[)" + relu + R"(],"edges":[{"from":{"node":1,"port":"out"},"to":{"node":1,"port":"x"}}]})",
            "ReLU 'r' has no input 'x'");
        row("edge shape", head + R"("nodes":[)" + relu + R"(],"edges":[{"from":1,"to":2}]})", "has no 'from' end");
        row("double input", head + R"("nodes":[)" + relu + R"(,{"id":2,"type":"node.relu","name":"s"}],"edges":[)" +
            R"({"from":{"node":1,"port":"out"},"to":{"node":2,"port":"in"}},{"from":{"node":2,"port":"out"},"to":{"node":2,"port":"in"}}]})",
            "input 'in' of 's' has two connections");
        row("nodes not objects", head + R"("nodes":[1,2]})", "node #1 is not an object");
        row("description type", head + R"("description":5,"nodes":[]})", "the description must be text");
    }
    void badFilesAreRefusedWithAMessage()
    {
        QFETCH(QString, json);
        QFETCH(QString, expected);
        const std::string text = json.toLatin1().toStdString();
        auto r = parseGraph(text, "bad.kgraph");
        QVERIFY(!r.ok());
        const std::string msg = r.error().message();
        QVERIFY2(msg.rfind("bad.kgraph: ", 0) == 0, msg.c_str());
        QVERIFY2(msg.find(expected.toStdString()) != std::string::npos, msg.c_str());
    }

    void truncatedFilesAreRefused()
    {
        const std::string full = readText(samplePath("tiny_llama"));
        for (std::size_t cut : {std::size_t(1), full.size() / 3, full.size() / 2, full.size() - 3}) {
            auto r = parseGraph(std::string_view(full).substr(0, cut), "cut.kgraph");
            QVERIFY(!r.ok());
            QVERIFY2(r.error().message().find("is not valid JSON") != std::string::npos, r.error().message().c_str());
        }
        // Every single-byte corruption is either refused with a message or still a valid graph.
        std::string bytes = readText(samplePath("mlp"));
        for (std::size_t i = 0; i < bytes.size(); i += 7) {
            std::string damaged = bytes;
            damaged[i] = static_cast<char>(damaged[i] ^ 0x25);
            auto r = parseGraph(damaged, "damaged.kgraph");
            if (r) inferShapes(*r);
            else QVERIFY(!r.error().what.empty());
        }
    }

    void filesystemErrors()
    {
        auto missing = loadGraph("/nonexistent/dir/x.kgraph");
        QVERIFY(!missing.ok());
        QVERIFY(missing.error().message().find("/nonexistent/dir/x.kgraph: cannot be opened") == 0);
        QVERIFY(!saveGraph(loadSample("mlp"), "/nonexistent/dir/x.kgraph").ok());
        // A failed save leaves the old file as it was.
        QTemporaryDir dir;
        const std::string path = dir.filePath("keep.kgraph").toStdString();
        QVERIFY(saveGraph(loadSample("mlp"), path).ok());
        const std::string before = readText(path);
        std::filesystem::permissions(dir.path().toStdString(), std::filesystem::perms::owner_read |
                                                                 std::filesystem::perms::owner_exec);
        const bool refused = !saveGraph(loadSample("tiny_llama"), path).ok();
        std::filesystem::permissions(dir.path().toStdString(), std::filesystem::perms::owner_all);
        if (refused) QCOMPARE(readText(path), before);  // (root may write anyway)
    }
};

QTEST_GUILESS_MAIN(TestGraph)
#include "test_graph.moc"
