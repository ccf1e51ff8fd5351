// A1111's `parameters` text written and read as A1111 does (real infotexts, quoting, the parser's
// corner cases), ComfyUI's prompt / workflow graphs, and hostile text that must not crash.
#include "diffusion/png_parameters.h"

#include <QTest>

#include <chrono>
#include <random>
#include <string>

using namespace kiln::diffusion;

namespace {

// As A1111 1.10 writes a hires-fix txt2img with a LoRA and an embedding (one line per \n).
const std::string kA1111 =
    "masterpiece, best quality, 1girl, <lora:add_detail:0.5>, (detailed background:1.2)\n"
    "Negative prompt: (worst quality, low quality:1.4), EasyNegative\n"
    "Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7.5, Seed: 3456789012, Size: 512x768, "
    "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, VAE hash: 735e4c3a44, "
    "VAE: vae-ft-mse-840000-ema-pruned.safetensors, Denoising strength: 0.45, Clip skip: 2, Hires upscale: 2, "
    "Hires steps: 15, Hires upscaler: R-ESRGAN 4x+ Anime6B, "
    "Lora hashes: \"add_detail: 7c6bad76eb54, more_details: 3b8aa1d351ef\", "
    "TI hashes: \"EasyNegative: c74b4e810b03\", Version: v1.10.1";

// ComfyUI's default graph as its API format saves it in the `prompt` chunk.
const std::string kComfyPrompt = R"json({
  "3": {"inputs": {"seed": 156680208700286, "steps": 20, "cfg": 8, "sampler_name": "euler", "scheduler": "normal",
        "denoise": 1, "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0]},
        "class_type": "KSampler"},
  "4": {"inputs": {"ckpt_name": "v1-5-pruned-emaonly.safetensors"}, "class_type": "CheckpointLoaderSimple"},
  "5": {"inputs": {"width": 512, "height": 640, "batch_size": 1}, "class_type": "EmptyLatentImage"},
  "6": {"inputs": {"text": "beautiful scenery nature glass bottle landscape, purple galaxy bottle,", "clip": ["4", 1]},
        "class_type": "CLIPTextEncode"},
  "7": {"inputs": {"text": "text, watermark", "clip": ["4", 1]}, "class_type": "CLIPTextEncode"},
  "8": {"inputs": {"samples": ["3", 0], "vae": ["4", 2]}, "class_type": "VAEDecode"},
  "9": {"inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}, "class_type": "SaveImage"}
})json";

// The same graph as the UI saves it in the `workflow` chunk (trimmed to what matters).
const std::string kComfyWorkflow = R"json({
  "last_node_id": 9, "last_link_id": 9,
  "nodes": [
    {"id": 7, "type": "CLIPTextEncode", "inputs": [{"name": "clip", "type": "CLIP", "link": 5}],
     "widgets_values": ["text, watermark"]},
    {"id": 6, "type": "CLIPTextEncode", "inputs": [{"name": "clip", "type": "CLIP", "link": 3}],
     "widgets_values": ["beautiful scenery nature glass bottle landscape, purple galaxy bottle,"]},
    {"id": 5, "type": "EmptyLatentImage", "inputs": [], "widgets_values": [512, 640, 1]},
    {"id": 3, "type": "KSampler",
     "inputs": [{"name": "model", "type": "MODEL", "link": 1}, {"name": "positive", "type": "CONDITIONING", "link": 4},
                {"name": "negative", "type": "CONDITIONING", "link": 6},
                {"name": "latent_image", "type": "LATENT", "link": 2}],
     "widgets_values": [156680208700286, "randomize", 20, 8, "euler", "normal", 1]},
    {"id": 4, "type": "CheckpointLoaderSimple", "inputs": [],
     "widgets_values": ["v1-5-pruned-emaonly.safetensors"]}
  ],
  "links": [[1, 4, 0, 3, 0, "MODEL"], [2, 5, 0, 3, 3, "LATENT"], [3, 4, 1, 6, 0, "CLIP"], [4, 6, 0, 3, 1, "CONDITIONING"],
            [5, 4, 1, 7, 0, "CLIP"], [6, 7, 0, 3, 2, "CONDITIONING"]]
})json";

void checkComfyDefault(const GenerationParameters& p)
{
    QCOMPARE(p.seed.value_or(0), std::uint64_t(156680208700286));
    QCOMPARE(p.steps.value_or(0), 20);
    QCOMPARE(p.cfgScale.value_or(0), 8.0);
    QCOMPARE(p.sampler, std::string("Euler"));
    QCOMPARE(p.scheduleType, std::string("Normal"));
    QCOMPARE(p.prompt, std::string("beautiful scenery nature glass bottle landscape, purple galaxy bottle,"));
    QCOMPARE(p.negativePrompt, std::string("text, watermark"));
    QCOMPARE(p.width.value_or(0), 512);
    QCOMPARE(p.height.value_or(0), 640);
    QCOMPARE(p.model, std::string("v1-5-pruned-emaonly"));
}

}  // namespace

class TestPngParameters : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void formatsInA1111Order()
    {
        GenerationParameters p;
        p.prompt = "a cat, masterpiece";
        p.negativePrompt = "blurry, lowres";
        p.steps = 20;
        p.sampler = "Euler a";
        p.scheduleType = "Automatic";
        p.cfgScale = 7;
        p.seed = 1234;
        p.width = 512;
        p.height = 512;
        p.modelHash = "abcdef1234";
        p.model = "name";
        p.extra = {{"Version", "v1.10.1"}, {"Lora hashes", "a: 1, b: 2"}, {"Clip skip", "2"}, {"Flag", "Flag"}};
        QCOMPARE(formatParameters(p),
                 std::string("a cat, masterpiece\nNegative prompt: blurry, lowres\n"
                             "Steps: 20, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7, Seed: 1234, "
                             "Size: 512x512, Model hash: abcdef1234, Model: name, Clip skip: 2, "
                             "Lora hashes: \"a: 1, b: 2\", Flag, Version: v1.10.1"));
        p.negativePrompt.clear();
        p.extra.clear();
        p.cfgScale = 6.5;
        QCOMPARE(formatParameters(p),
                 std::string("a cat, masterpiece\nSteps: 20, Sampler: Euler a, Schedule type: Automatic, "
                             "CFG scale: 6.5, Seed: 1234, Size: 512x512, Model hash: abcdef1234, Model: name"));
    }

    void quotesAsJsonDumps()
    {
        GenerationParameters p;
        p.prompt = "x";
        p.extra = {{"A", "say \"hi\", C:\\dir\n\ttab\x01"}, {"B", "no \"quote\" needed"}, {"C", "caf\xc3\xa9: ok"}};
        QCOMPARE(formatParameters(p),
                 std::string("x\nA: \"say \\\"hi\\\", C:\\\\dir\\n\\ttab\\u0001\", B: no \"quote\" needed, "
                             "C: \"caf\xc3\xa9: ok\""));
    }

    void parsesARealInfotextAndWritesItBack()
    {
        auto r = parseParameters(kA1111);
        QVERIFY(r.ok());
        const auto& p = *r;
        QCOMPARE(p.prompt, std::string("masterpiece, best quality, 1girl, <lora:add_detail:0.5>, (detailed background:1.2)"));
        QCOMPARE(p.negativePrompt, std::string("(worst quality, low quality:1.4), EasyNegative"));
        QCOMPARE(p.steps.value_or(0), 28);
        QCOMPARE(p.sampler, std::string("DPM++ 2M"));
        QCOMPARE(p.scheduleType, std::string("Karras"));
        QCOMPARE(p.cfgScale.value_or(0), 7.5);
        QCOMPARE(p.seed.value_or(0), std::uint64_t(3456789012));
        QCOMPARE(p.width.value_or(0), 512);
        QCOMPARE(p.height.value_or(0), 768);
        QCOMPARE(p.modelHash, std::string("6ce0161689"));
        QCOMPARE(p.model, std::string("v1-5-pruned-emaonly"));
        QVERIFY(p.find("Lora hashes"));
        QCOMPARE(*p.find("Lora hashes"), std::string("add_detail: 7c6bad76eb54, more_details: 3b8aa1d351ef"));
        QCOMPARE(*p.find("Hires upscaler"), std::string("R-ESRGAN 4x+ Anime6B"));
        QCOMPARE(*p.find("Denoising strength"), std::string("0.45"));
        QCOMPARE(p.extra.front().first, std::string("VAE hash"));
        QCOMPARE(p.extra.back().first, std::string("Version"));
        QCOMPARE(formatParameters(p), kA1111);
    }

    void promptAndNegativeOverSeveralLines()
    {
        auto r = parseParameters("  line one  \r\nline two\nNegative prompt: neg one\nneg two\n"
                                 "Steps: 20, Sampler: Euler, Seed: 1\n");
        QVERIFY(r.ok());
        QCOMPARE(r->prompt, std::string("line one\nline two"));
        QCOMPARE(r->negativePrompt, std::string("neg one\nneg two"));
        QCOMPARE(r->steps.value_or(0), 20);
        // Fewer than three pairs: the last line is prompt text, as A1111 reads it.
        auto prompt = parseParameters("just a prompt\nwith: colon, and: more");
        QVERIFY(prompt.ok());
        QCOMPARE(prompt->prompt, std::string("just a prompt\nwith: colon, and: more"));
        QVERIFY(!prompt->steps && prompt->extra.empty());
    }

    void parserCornerCasesAsA1111()
    {
        auto r = parseParameters("p\nSteps: many, Sampler: Euler, Note: \"say \\\"hi\\\", ok\", Empty: , "
                                 "Seed: x, Size: big, Odd: \"unterminated, Tail: \"\", Last: 1");
        QVERIFY(r.ok());
        QVERIFY(!r->steps && !r->seed && !r->width);
        QCOMPARE(*r->find("Steps"), std::string("many"));
        QCOMPARE(*r->find("Seed"), std::string("x"));
        QCOMPARE(*r->find("Size"), std::string("big"));
        QCOMPARE(*r->find("Note"), std::string("say \"hi\", ok"));
        QVERIFY(!r->find("Empty"));                              // A1111 drops an empty value
        QCOMPARE(*r->find("Odd"), std::string("\"unterminated"));  // no closing quote: up to the comma
        QCOMPARE(*r->find("Tail"), std::string(""));             // "" unquotes to nothing
        QCOMPARE(*r->find("Last"), std::string("1"));
        // A key is a word character and then word characters, spaces, '-' or '/', right before ':'.
        auto keys = parseParameters("p\nx, Steps: 1, a: 2, Hires/x-y z: 3, $bad: 4, Seed: 2");
        QVERIFY(keys.ok());
        QVERIFY(keys->find("Hires/x-y z") && !keys->find("a") && keys->find("bad"));
        QCOMPARE(keys->seed.value_or(0), std::uint64_t(2));
    }

    void roundTripOfAwkwardValues()
    {
        GenerationParameters p;
        p.prompt = "first line\nsecond: with, commas";
        p.negativePrompt = "neg";
        p.steps = 150;
        p.sampler = "LMS";
        p.scheduleType = "Karras";
        p.cfgScale = 12.25;
        p.seed = 18446744073709551615ull;
        p.width = 1024;
        p.height = 576;
        p.extra = {{"Lora hashes", "a: \"b\", c\\d"}, {"Multi", "one\ntwo"}, {"Unicode", "\xe7\x8c\xab, ok"}};
        auto back = parseParameters(formatParameters(p));
        QVERIFY(back.ok());
        QCOMPARE(back->prompt, p.prompt);
        QCOMPARE(back->negativePrompt, p.negativePrompt);
        QCOMPARE(back->steps, p.steps);
        QCOMPARE(back->sampler, p.sampler);
        QCOMPARE(back->scheduleType, p.scheduleType);
        QCOMPARE(back->cfgScale, p.cfgScale);
        QCOMPARE(back->seed, p.seed);
        QCOMPARE(back->width, p.width);
        QCOMPARE(back->height, p.height);
        QVERIFY(back->extra == p.extra);
    }

    void garbageNeverCrashes()
    {
        std::mt19937 rng(7);
        for (int round = 0; round < 300; ++round) {
            std::string s(rng() % 400, '\0');
            const char alphabet[] = "aZ9_ -/:,\"\\\n\r\t\x80\xff{}[]";
            for (char& c : s) c = round % 2 ? char(rng()) : alphabet[rng() % (sizeof(alphabet) - 1)];
            QVERIFY(parseParameters(s).ok());
            (void)parseComfyUi(s, s);
            (void)parametersFromPngText({{"prompt", s}});
        }
        // Long runs stay linear: a 4 MiB key without a colon and a 4 MiB quoted value.
        const auto start = std::chrono::steady_clock::now();
        QVERIFY(parseParameters(std::string(4 << 20, 'a')).ok());
        QVERIFY(parseParameters("p\nA: 1, B: 2, C: \"" + std::string(4 << 20, 'x')).ok());
        QVERIFY(std::chrono::steady_clock::now() - start < std::chrono::seconds(20));
        auto huge = parseParameters(std::string((16 << 20) + 1, 'a'));
        QVERIFY(!huge.ok());
    }

    void readsComfyUiPrompt()
    {
        auto r = parseComfyUi(kComfyPrompt);
        QVERIFY2(r.ok(), r.ok() ? "" : r.error().message().c_str());
        checkComfyDefault(*r);
        QVERIFY(!r->find("Denoising strength"));  // denoise 1 is plain txt2img
    }

    void readsComfyUiWorkflowWhenThePromptIsMissing()
    {
        auto r = parseComfyUi("", kComfyWorkflow);
        QVERIFY2(r.ok(), r.ok() ? "" : r.error().message().c_str());
        checkComfyDefault(*r);
        auto viaChunks = parametersFromPngText({{"workflow", kComfyWorkflow}, {"prompt", "{truncated"}});
        QVERIFY(viaChunks.ok());
        checkComfyDefault(*viaChunks);
    }

    void comfyHiresGraphWithLoraAndLinkedSeed()
    {
        // Second pass (node 12) upscales the first pass's latent; a LoRA sits between checkpoint and
        // sampler; the first pass's seed and text come from other nodes; conditioning is combined.
        const std::string graph = R"json({
          "12": {"class_type": "KSampler", "inputs": {"seed": 1, "steps": 10, "cfg": 5, "sampler_name": "dpmpp_2m",
                 "scheduler": "karras", "denoise": 0.5, "model": ["20", 0], "positive": ["6", 0],
                 "negative": ["7", 0], "latent_image": ["11", 0]}},
          "11": {"class_type": "LatentUpscale", "inputs": {"samples": ["3", 0], "width": 1024, "height": 1024}},
          "3": {"class_type": "KSampler", "inputs": {"seed": ["30", 0], "steps": 25, "cfg": 6.5,
                "sampler_name": "euler_ancestral", "scheduler": "karras", "denoise": 1, "model": ["20", 0],
                "positive": ["8", 0], "negative": ["7", 0], "latent_image": ["5", 0]}},
          "30": {"class_type": "Seed (rgthree)", "inputs": {"seed": 18446744073709551615}},
          "20": {"class_type": "LoraLoader", "inputs": {"model": ["4", 0], "clip": ["4", 1], "lora_name": "x.safetensors"}},
          "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15/dreamshaper_8.safetensors"}},
          "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 512, "batch_size": 1}},
          "8": {"class_type": "ConditioningCombine", "inputs": {"conditioning_1": ["6", 0], "conditioning_2": ["9", 0]}},
          "6": {"class_type": "CLIPTextEncode", "inputs": {"text": ["40", 0], "clip": ["20", 1]}},
          "40": {"class_type": "PrimitiveString", "inputs": {"value": "a castle"}},
          "9": {"class_type": "CLIPTextEncode", "inputs": {"text": "at dusk", "clip": ["20", 1]}},
          "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "ugly", "clip": ["20", 1]}}
        })json";
        auto r = parseComfyUi(graph);
        QVERIFY2(r.ok(), r.ok() ? "" : r.error().message().c_str());
        QCOMPARE(r->steps.value_or(0), 25);
        QCOMPARE(r->seed.value_or(0), std::uint64_t(18446744073709551615ull));
        QCOMPARE(r->sampler, std::string("Euler a"));
        QCOMPARE(r->scheduleType, std::string("Karras"));
        QCOMPARE(r->cfgScale.value_or(0), 6.5);
        QCOMPARE(r->prompt, std::string("a castle"));
        QCOMPARE(r->negativePrompt, std::string("ugly"));
        QCOMPARE(r->width.value_or(0), 512);
        QCOMPARE(r->model, std::string("dreamshaper_8"));
    }

    void hostileComfyUi()
    {
        QVERIFY(!parseComfyUi(kComfyPrompt.substr(0, kComfyPrompt.size() / 2)).ok());  // truncated
        QVERIFY(!parseComfyUi(std::string(100000, '[') + std::string(100000, ']')).ok());
        QVERIFY(!parseComfyUi("[1, 2, 3]").ok());
        QVERIFY(!parseComfyUi(R"json({"1": {"class_type": "SaveImage", "inputs": {}}})json").ok());  // no sampler
        QVERIFY(!parseComfyUi("").ok());
        // Wrong types, dangling and cyclic links: a partial result, no crash.
        auto r = parseComfyUi(R"json({
          "1": {"class_type": "KSampler", "inputs": {"seed": -5, "steps": "twenty", "cfg": [1], "sampler_name": 3,
                "positive": ["2", 0], "negative": ["99", 0], "latent_image": ["3", 0], "model": ["3", "x"]}},
          "2": {"class_type": "ConditioningCombine", "inputs": {"conditioning_1": ["2", 0], "conditioning_2": ["3", 0]}},
          "3": {"class_type": "Loop", "inputs": {"samples": ["2", 0], "width": "wide", "height": 5}},
          "4": 7, "5": {"class_type": 12}
        })json");
        QVERIFY(r.ok());
        QVERIFY(!r->seed && !r->steps && !r->cfgScale && !r->width);
        QVERIFY(r->sampler.empty() && r->prompt.empty() && r->negativePrompt.empty() && r->model.empty());
        auto workflow = parseComfyUi("", R"json({"nodes": [{"id": 1, "type": "KSampler", "widgets_values": []},
            {"id": "x"}, 5], "links": [[1], {"id": 2}, null]})json");
        QVERIFY(workflow.ok());
        QVERIFY(!workflow->steps);
    }

    void pngTextChunks()
    {
        auto a = parametersFromPngText({{"prompt", kComfyPrompt}, {"parameters", kA1111}});
        QVERIFY(a.ok());
        QCOMPARE(a->steps.value_or(0), 28);  // A1111's chunk wins
        auto c = parametersFromPngText({{"prompt", kComfyPrompt}, {"workflow", kComfyWorkflow}});
        QVERIFY(c.ok());
        checkComfyDefault(*c);
        QVERIFY(!parametersFromPngText({{"Software", "GIMP"}}).ok());
        QVERIFY(!parametersFromPngText({}).ok());
    }
};

QTEST_GUILESS_MAIN(TestPngParameters)
#include "test_png_parameters.moc"
