// The model library on a temporary tree of tiny files in the real key layouts (SD 1.x checkpoints with
// a 4- and a 9-channel input conv, a VAE, a kohya LoRA, an embedding, a diffusers folder, pickles,
// damaged and hostile files, a symlink loop): what the scan finds, what the headers say, and SHA-256
// hashes checked against sha256sum and known vectors, with the cache used and invalidated.
#include "core/sha256.h"
#include "diffusion/model_library.h"
#include "io/safetensors_file.h"

#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <filesystem>
#include <fstream>
#include <random>
#include <unistd.h>

using namespace kiln::diffusion;
namespace fs = std::filesystem;

namespace {

struct Spec {
    std::string name;
    std::vector<std::int64_t> shape;
    kiln::io::DType dtype = kiln::io::DType::F16;
};

void writeTensors(const fs::path& path, const std::vector<Spec>& specs, const std::map<std::string, std::string>& meta = {})
{
    fs::create_directories(path.parent_path());
    std::vector<std::vector<std::uint8_t>> buffers;
    std::vector<kiln::io::TensorBlob> blobs;
    buffers.reserve(specs.size());
    std::mt19937 rng(7);
    for (const auto& s : specs) {
        std::size_t n = kiln::io::dtypeSize(s.dtype);
        for (auto d : s.shape) n *= static_cast<std::size_t>(d);
        auto& b = buffers.emplace_back(n);
        for (auto& byte : b) byte = static_cast<std::uint8_t>(rng() & 0x3f);  // small finite halves
        blobs.push_back({s.name, s.dtype, s.shape, b});
    }
    auto ok = kiln::io::writeSafetensors(path.string(), blobs, meta);
    if (!ok) qFatal("%s", ok.error().message().c_str());
}

void writeBytes(const fs::path& path, const std::string& bytes)
{
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string randomBytes(std::size_t n, unsigned seed)
{
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    return s;
}

std::string readAll(const fs::path& p)
{
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<Spec> sdCheckpoint(std::int64_t inChannels)
{
    return {{"model.diffusion_model.input_blocks.0.0.weight", {8, inChannels, 3, 3}},
            {"model.diffusion_model.input_blocks.0.0.bias", {8}},
            {"model.diffusion_model.out.2.weight", {4, 8, 3, 3}},
            {"cond_stage_model.transformer.text_model.embeddings.token_embedding.weight", {16, 8}},
            {"first_stage_model.encoder.conv_in.weight", {8, 3, 3, 3}},
            {"first_stage_model.decoder.conv_out.weight", {3, 8, 3, 3}, kiln::io::DType::F32}};
}

const ModelEntry* findEntry(const ScanResult& r, const std::string& name)
{
    for (const auto& e : r.entries)
        if (e.name == name) return &e;
    return nullptr;
}

// An independent SHA-256: coreutils' sha256sum.
QString sha256sum(const fs::path& p)
{
    QProcess proc;
    proc.start(QStringLiteral("sha256sum"), {QString::fromStdString(p.string())});
    if (!proc.waitForFinished(60000) || proc.exitCode() != 0) return {};
    return QString::fromLatin1(proc.readAllStandardOutput()).section(QLatin1Char(' '), 0, 0);
}

}  // namespace

class TestModelLibrary : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;
    fs::path root_;
    std::vector<ModelFolder> folders_;

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(tmp_.isValid());
        root_ = fs::path(tmp_.path().toStdString());
        qputenv("KILN_CACHE_DIR", QByteArray::fromStdString((root_ / "cache").string()));
        const fs::path ck = root_ / "models/checkpoints", vae = root_ / "models/vae", lora = root_ / "models/loras",
                       emb = root_ / "models/embeddings";
        writeTensors(ck / "sd15.safetensors", sdCheckpoint(4), {{"format", "pt"}});
        writeTensors(ck / "inpaint/sd15-inpainting.safetensors", sdCheckpoint(9));
        writeBytes(ck / "old.ckpt", randomBytes(3000, 1));
        writeBytes(ck / "notes.txt", "not a model");
        writeBytes(ck / "tiny-diffusers/model_index.json",
                   R"({"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.21.0"})");
        writeTensors(ck / "tiny-diffusers/unet/diffusion_pytorch_model.safetensors",
                     {{"conv_in.weight", {8, 4, 3, 3}}});
        // Cut mid-data: the header promises bytes the file no longer has.
        writeTensors(ck / "whole.safetensors", sdCheckpoint(4));
        const std::string whole = readAll(ck / "whole.safetensors");
        fs::remove(ck / "whole.safetensors");
        writeBytes(ck / "truncated.safetensors", whole.substr(0, whole.size() - 100));
        // A header length of 2^63: a reader that trusts it allocates or reads forever.
        writeBytes(ck / "hostile.safetensors", std::string("\x00\x00\x00\x00\x00\x00\x00\x80{}", 10));
        writeBytes(ck / "garbage.safetensors", std::string("\x06\x00\x00\x00\x00\x00\x00\x00{\"a\":[", 14));
        fs::create_directory_symlink(ck, ck / "inpaint/loop");

        writeTensors(vae / "vae-ft-mse.safetensors", {{"encoder.conv_in.weight", {8, 3, 3, 3}},
                                                      {"decoder.conv_out.weight", {3, 8, 3, 3}},
                                                      {"quant_conv.weight", {8, 8, 1, 1}},
                                                      {"post_quant_conv.weight", {4, 4, 1, 1}}});
        writeTensors(lora / "styles/ink.safetensors",
                     {{"lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight", {4, 8}},
                      {"lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight", {8, 4}},
                      {"lora_unet_down_blocks_0_attentions_0_proj_in.alpha", {}},
                      {"lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight", {4, 8}},
                      {"lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight", {8, 4}},
                      {"lora_te_text_model_encoder_layers_0_self_attn_q_proj.alpha", {}}},
                     {{"ss_network_dim", "4"}, {"ss_network_alpha", "2"}, {"ss_base_model_version", "sd_v1"},
                      {"ss_output_name", "ink"}, {"modelspec.title", "Ink style"}});
        writeTensors(emb / "bad-hands.safetensors", {{"emb_params", {2, 768}, kiln::io::DType::F32}});
        writeBytes(emb / "old-style.pt", randomBytes(500, 2));

        folders_ = {{ModelKind::Checkpoint, ck.string()},
                    {ModelKind::Vae, vae.string()},
                    {ModelKind::Lora, lora.string()},
                    {ModelKind::Embedding, emb.string()},
                    {ModelKind::Lora, (root_ / "models/missing").string()}};
    }

    void scanFindsEveryModel()
    {
        std::size_t reported = 0;
        ScanCallbacks cb;
        cb.progress = [&](std::size_t found, const std::string&) { reported = found; };
        auto r = scanModelFolders(folders_, cb);
        QVERIFY2(r.ok(), r.ok() ? "" : r.error().message().c_str());
        QStringList names;
        for (const auto& e : r->entries) names << QString::fromStdString(e.relativePath);
        // Checkpoints first, by relative path; the diffusers folder's own files and notes.txt are not entries,
        // and the loop back into checkpoints/ adds nothing.
        QCOMPARE(names, (QStringList{"garbage.safetensors", "hostile.safetensors",
                                     "inpaint/sd15-inpainting.safetensors", "old.ckpt", "sd15.safetensors",
                                     "tiny-diffusers", "truncated.safetensors", "vae-ft-mse.safetensors",
                                     "styles/ink.safetensors", "bad-hands.safetensors", "old-style.pt"}));
        QCOMPARE(reported, r->entries.size());

        const auto* sd = findEntry(*r, "sd15");
        QVERIFY(sd);
        QCOMPARE(sd->kind, ModelKind::Checkpoint);
        QVERIFY(fs::path(sd->path).is_absolute());
        QCOMPARE(sd->size, static_cast<std::uint64_t>(QFileInfo(QString::fromStdString(sd->path)).size()));
        const qint64 mtimeMs = QFileInfo(QString::fromStdString(sd->path)).lastModified().toMSecsSinceEpoch();
        QCOMPARE(sd->mtimeNs / 1'000'000, mtimeMs);

        const auto* d = findEntry(*r, "tiny-diffusers");
        QVERIFY(d && d->diffusersFolder);
        QCOMPARE(d->kind, ModelKind::Checkpoint);
        QCOMPARE(d->size, fs::file_size(fs::path(d->path) / "model_index.json") +
                              fs::file_size(fs::path(d->path) / "unet/diffusion_pytorch_model.safetensors"));
        QCOMPARE(d->info.detectedType, std::string("SD 1.x checkpoint"));
        QCOMPARE(d->info.metadata.at("_diffusers_version"), std::string("0.21.0"));

        QCOMPARE(findEntry(*r, "ink")->kind, ModelKind::Lora);
        QCOMPARE(findEntry(*r, "bad-hands")->kind, ModelKind::Embedding);

        auto has = [&](const char* text) {
            return std::any_of(r->problems.begin(), r->problems.end(),
                               [&](const std::string& p) { return p.find(text) != std::string::npos; });
        };
        QVERIFY2(has("symlink loop"), "the loop is reported");
        QVERIFY2(has("missing does not exist"), "a missing folder is reported");
    }

    void headersSayWhatEachFileIs()
    {
        auto r = scanModelFolders(folders_);
        QVERIFY(r.ok());
        const auto& sd = findEntry(*r, "sd15")->info;
        QCOMPARE(sd.format, std::string("safetensors"));
        QCOMPARE(sd.detectedType, std::string("SD 1.x checkpoint"));
        QCOMPARE(sd.details, std::string("UNet, text encoder, VAE, 4 input channels"));
        QCOMPARE(sd.tensorCount, std::size_t{6});
        QCOMPARE(sd.parameterCount, std::uint64_t{8 * 4 * 9 + 8 + 4 * 8 * 9 + 16 * 8 + 8 * 3 * 9 + 3 * 8 * 9});
        QCOMPARE(sd.dtypes.at("F16"), std::size_t{5});
        QCOMPARE(sd.dtypes.at("F32"), std::size_t{1});
        QCOMPARE(sd.metadata.at("format"), std::string("pt"));
        QVERIFY(sd.problem.empty());

        QCOMPARE(findEntry(*r, "sd15-inpainting")->info.detectedType, std::string("SD 1.x inpainting checkpoint"));
        QCOMPARE(findEntry(*r, "vae-ft-mse")->info.detectedType, std::string("VAE"));

        const auto& lora = findEntry(*r, "ink")->info;
        QCOMPARE(lora.detectedType, std::string("LoRA"));
        QCOMPARE(lora.details, std::string("rank 4, 2 modules"));
        QCOMPARE(lora.metadata.at("ss_network_dim"), std::string("4"));
        QCOMPARE(lora.metadata.at("modelspec.title"), std::string("Ink style"));

        const auto& emb = findEntry(*r, "bad-hands")->info;
        QCOMPARE(emb.detectedType, std::string("Textual inversion embedding"));
        QCOMPARE(emb.details, std::string("2 vectors × 768"));

        for (const char* pickle : {"old", "old-style"}) {
            const auto& info = findEntry(*r, pickle)->info;
            QCOMPARE(info.format, std::string("pickle"));
            QCOMPARE(info.details, std::string("pickle file: metadata not read"));
            QVERIFY(info.problem.empty());
        }

        const auto& truncated = findEntry(*r, "truncated")->info;
        QVERIFY(truncated.detectedType.empty());
        QVERIFY2(truncated.problem.find("truncated") != std::string::npos, truncated.problem.c_str());
        const auto& hostile = findEntry(*r, "hostile")->info;
        QVERIFY2(hostile.problem.find("header length is 9223372036854775808") != std::string::npos,
                 hostile.problem.c_str());
        const auto& garbage = findEntry(*r, "garbage")->info;
        QVERIFY2(garbage.problem.find("not valid JSON") != std::string::npos, garbage.problem.c_str());
    }

    void detectsOtherFamilies()
    {
        ModelInfo xl;
        detectModelType({{"conditioner.embedders.0.transformer.text_model.embeddings.position_ids", {1, 77}},
                         {"model.diffusion_model.input_blocks.0.0.weight", {320, 4, 3, 3}}},
                        xl);
        QCOMPARE(xl.detectedType, std::string("SDXL checkpoint (not supported)"));

        ModelInfo sd2;
        detectModelType({{"cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight", {3072, 1024}},
                         {"model.diffusion_model.input_blocks.0.0.weight", {320, 4, 3, 3}}},
                        sd2);
        QCOMPARE(sd2.detectedType, std::string("SD 2.x checkpoint (not supported)"));

        ModelInfo vae;
        detectModelType({{"first_stage_model.encoder.conv_in.weight", {128, 3, 3, 3}},
                         {"first_stage_model.post_quant_conv.weight", {4, 4, 1, 1}}},
                        vae);
        QCOMPARE(vae.detectedType, std::string("VAE"));

        ModelInfo ranks;
        detectModelType({{"lora_unet_a.lora_down.weight", {4, 8}},
                         {"lora_unet_b.lora_down.weight", {16, 8}},
                         {"lora_te2_c.lora_down.weight", {8, 8}}},
                        ranks);
        QCOMPARE(ranks.detectedType, std::string("LoRA (SDXL, not supported)"));
        QCOMPARE(ranks.details, std::string("rank 4–16, 3 modules"));

        ModelInfo ti;
        detectModelType({{"string_to_param.*", {768}}}, ti);
        QCOMPARE(ti.details, std::string("1 vector × 768"));

        ModelInfo unknown;
        detectModelType({{"backbone.layer1.weight", {8, 8}}, {"encoder.x", {1}}}, unknown);
        QVERIFY(unknown.detectedType.empty());
    }

    void scanStopsWhenCancelled()
    {
        int polls = 0;
        ScanCallbacks cb;
        cb.cancelled = [&] { return ++polls > 3; };
        auto r = scanModelFolders(folders_, cb);
        QVERIFY(!r.ok());
        QVERIFY(r.error().what.find("cancelled") != std::string::npos);

        ScanCallbacks listOnly;
        listOnly.readInfo = false;
        auto quick = scanModelFolders(folders_, listOnly);
        QVERIFY(quick.ok());
        QVERIFY(findEntry(*quick, "sd15")->info.format.empty());
    }

    void unreadableFolderIsAProblemNotAFailure()
    {
        const fs::path locked = root_ / "models/locked";
        writeTensors(locked / "inside/x.safetensors", {{"emb_params", {1, 4}}});
        fs::permissions(locked / "inside", fs::perms::none);
        auto r = scanModelFolders({{ModelKind::Embedding, locked.string()}});
        fs::permissions(locked / "inside", fs::perms::owner_all);
        QVERIFY(r.ok());
        if (::geteuid() == 0) QSKIP("root reads every folder; only 'no crash' was checked");
        QCOMPARE(r->entries.size(), std::size_t{0});
        QCOMPARE(r->problems.size(), std::size_t{1});
        QVERIFY(r->problems[0].find("cannot read folder") != std::string::npos);
    }

    void sha256MatchesKnownVectors()
    {
        auto hex = [](std::string_view s) {
            kiln::Sha256 h;
            h.update(s);
            return h.hex();
        };
        QCOMPARE(hex(""), std::string("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
        QCOMPARE(hex("abc"), std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
        QCOMPARE(hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                 std::string("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
        kiln::Sha256 million;
        const std::string chunk(1000, 'a');
        for (int i = 0; i < 1000; ++i) million.update(chunk);
        QCOMPARE(million.hex(), std::string("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
    }

    void sha256FileMatchesSha256sum()
    {
        // Larger than one 4 MiB chunk and not a multiple of it.
        const fs::path big = root_ / "big.bin";
        writeBytes(big, randomBytes((std::size_t{9} << 20) + 12345, 3));
        int calls = 0;
        auto hash = sha256File(big.string(), [&](std::uint64_t done, std::uint64_t total) {
            ++calls;
            return done <= total;
        });
        QVERIFY(hash.ok());
        QCOMPARE(calls, 3);
        const QString expected = sha256sum(big);
        if (expected.isEmpty()) QSKIP("sha256sum is not installed");
        QCOMPARE(QString::fromStdString(*hash), expected);
        QCOMPARE(shortModelHash(*hash), expected.left(10).toStdString());

        auto stopped = sha256File(big.string(), [](std::uint64_t, std::uint64_t) { return false; });
        QVERIFY(!stopped.ok());
        QVERIFY(stopped.error().what.find("cancelled") != std::string::npos);
        QVERIFY(!sha256File((root_ / "nope.bin").string()).ok());
    }

    void cacheIsUsedAndInvalidated()
    {
        const fs::path model = root_ / "cached/model.safetensors";
        writeBytes(model, randomBytes(70000, 4));
        const std::string original = sha256sum(model).toStdString();
        if (original.empty()) QSKIP("sha256sum is not installed");
        QCOMPARE(QString::fromStdString(HashCache::defaultFile()),
                 QString::fromStdString((root_ / "cache/model-hashes.json").string()));
        QVERIFY(!cachedSha256(model.string()));

        {
            HashCache cache;
            bool fromCache = true;
            auto h = cache.sha256(model.string(), {}, &fromCache);
            QVERIFY(h.ok());
            QCOMPARE(*h, original);
            QVERIFY(!fromCache);
            QVERIFY(cache.save().ok());
        }
        QCOMPARE(cachedSha256(model.string()).value_or(""), original);
        // Through a symlink and a relative-looking path: the same file, the same entry.
        fs::create_symlink(model, root_ / "cached/link.safetensors");
        QCOMPARE(cachedSha256((root_ / "cached/../cached/link.safetensors").string()).value_or(""), original);

        // Same size, same mtime, other bytes: the cache answers without reading the file, which is how
        // the second call is known not to hash again.
        const auto mtime = fs::last_write_time(model);
        writeBytes(model, randomBytes(70000, 5));
        fs::last_write_time(model, mtime);
        {
            HashCache cache;
            bool fromCache = false;
            auto h = cache.sha256(model.string(), {}, &fromCache);
            QVERIFY(h.ok());
            QVERIFY(fromCache);
            QCOMPARE(*h, original);
        }

        // A new mtime: hashed again, and the new hash is the new content's.
        fs::last_write_time(model, mtime + std::chrono::seconds(5));
        QVERIFY(!cachedSha256(model.string()));
        const std::string changed = sha256sum(model).toStdString();
        QVERIFY(changed != original);
        {
            HashCache cache;
            bool fromCache = true;
            auto h = cache.sha256(model.string(), {}, &fromCache);
            QVERIFY(h.ok());
            QVERIFY(!fromCache);
            QCOMPARE(*h, changed);
            QVERIFY(cache.save().ok());
        }
        QCOMPARE(cachedSha256(model.string()).value_or(""), changed);

        // A new size (mtime restored): not the cached file any more.
        const auto t = fs::last_write_time(model);
        writeBytes(model, randomBytes(70001, 5));
        fs::last_write_time(model, t);
        QVERIFY(!cachedSha256(model.string()));
    }

    void corruptCacheCountsAsEmpty()
    {
        const fs::path model = root_ / "cached/other.safetensors";
        writeBytes(model, "abc");
        const std::string cacheFile = HashCache::defaultFile();
        for (const std::string& bad : {std::string("{\"files\": {\"x\": [1,2"), std::string("\x00\xff garbage", 10),
                                      std::string(R"({"files": {")" + model.string() +
                                                  R"(": {"size": 3, "mtime_ns": 1, "sha256": "short"}}})")}) {
            writeBytes(cacheFile, bad);
            QVERIFY(!cachedSha256(model.string()));
            HashCache cache;
            QCOMPARE(cache.size(), std::size_t{0});
            auto h = cache.sha256(model.string());
            QVERIFY(h.ok());
            QCOMPARE(*h, std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
            QVERIFY(cache.save().ok());
            QCOMPARE(cachedSha256(model.string()).value_or(""), *h);
        }
        // Saved atomically: no temporary file is left beside the cache.
        int files = 0;
        for (const auto& e : fs::directory_iterator(fs::path(cacheFile).parent_path())) files += e.is_regular_file();
        QCOMPARE(files, 1);
    }

    // Hashing many files saves the cache as it goes: when the first file is reported done, a second
    // process (a fresh HashCache on the same file) already knows its hash, so a crash during the next
    // several-GB file loses nothing finished. Many tiny files are not saved once each.
    void hashingSavesTheCacheAsItGoes()
    {
        const fs::path dir = root_ / "batch";
        const std::string cacheFile = (root_ / "batch-cache/hashes.json").string();
        std::vector<std::string> paths;
        for (int i = 0; i < 3; ++i) {
            const fs::path p = dir / ("m" + std::to_string(i) + ".safetensors");
            writeBytes(p, randomBytes(5000 + std::size_t(i), unsigned(20 + i)));
            paths.push_back(p.string());
        }
        {
            HashCache cache(cacheFile);
            std::vector<std::string> seenOnDisk;
            std::uint64_t lastDone = 0, total = 0;
            HashFilesCallbacks cb;
            cb.minSaveInterval = std::chrono::milliseconds(0);
            cb.progress = [&](std::uint64_t done, std::uint64_t all, std::size_t, const std::string&) {
                QVERIFY(done >= lastDone);
                lastDone = done;
                total = all;
            };
            cb.fileDone = [&](const std::string& path, const kiln::Result<std::string>& sha) {
                QVERIFY(sha.ok());
                const HashCache onDisk(cacheFile);  // what survives a crash now
                QCOMPARE(onDisk.lookup(path).value_or(""), *sha);
                seenOnDisk.push_back(path);
            };
            const auto summary = hashModelFiles(paths, cache, cb);
            QCOMPARE(seenOnDisk.size(), paths.size());
            QCOMPARE(summary.hashed, paths.size());
            QCOMPARE(summary.saves, paths.size());
            QVERIFY(!summary.cancelled);
            QCOMPARE(total, std::uint64_t{3 * 5000 + 3});
            QCOMPARE(lastDone, total);
        }
        {
            // Known now: nothing is read, nothing is written.
            HashCache cache(cacheFile);
            const auto summary = hashModelFiles(paths, cache);
            QCOMPARE(summary.fromCache, paths.size());
            QCOMPARE(summary.hashed, std::size_t{0});
            QCOMPARE(summary.saves, std::size_t{0});
        }

        // 40 tiny files within the save interval: the first is saved at once, the rest once at the end.
        std::vector<std::string> tiny;
        for (int i = 0; i < 40; ++i) {
            const fs::path p = dir / ("tiny" + std::to_string(i) + ".pt");
            writeBytes(p, randomBytes(100, unsigned(100 + i)));
            tiny.push_back(p.string());
        }
        HashCache cache(cacheFile);
        HashFilesCallbacks cb;
        cb.minSaveInterval = std::chrono::hours(1);
        const auto summary = hashModelFiles(tiny, cache, cb);
        QCOMPARE(summary.hashed, tiny.size());
        QCOMPARE(summary.saves, std::size_t{2});
        const HashCache onDisk(cacheFile);
        for (const auto& p : tiny) QVERIFY(onDisk.lookup(p).has_value());
        for (const auto& p : paths) QVERIFY(onDisk.lookup(p).has_value());  // merged, not replaced
    }

    // Cancelled in the middle of the second file: the first is kept on disk, the second is not cached.
    void cancelledHashingKeepsTheFilesDone()
    {
        const fs::path dir = root_ / "cancel";
        const std::string cacheFile = (root_ / "cancel-cache/hashes.json").string();
        const fs::path small = dir / "a.safetensors", big = dir / "b.ckpt";
        writeBytes(small, randomBytes(3000, 31));
        writeBytes(big, randomBytes(std::size_t{9} << 20, 32));  // three 4 MiB chunks
        HashCache cache(cacheFile);
        HashFilesCallbacks cb;
        cb.minSaveInterval = std::chrono::hours(1);
        bool stop = false;
        cb.cancelled = [&stop] { return stop; };
        cb.progress = [&](std::uint64_t, std::uint64_t, std::size_t index, const std::string&) { stop = stop || index == 1; };
        const auto summary = hashModelFiles({small.string(), big.string()}, cache, cb);
        QVERIFY(summary.cancelled);
        QCOMPARE(summary.hashed, std::size_t{1});
        QCOMPARE(summary.failed, std::size_t{0});
        const HashCache onDisk(cacheFile);
        QVERIFY(onDisk.lookup(small.string()).has_value());
        QVERIFY(!onDisk.lookup(big.string()).has_value());
    }
};

QTEST_GUILESS_MAIN(TestModelLibrary)
#include "test_model_library.moc"
