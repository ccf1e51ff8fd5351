#include "diffusion/png_parameters.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <set>

namespace kiln::diffusion {

namespace {

using nlohmann::json;

constexpr std::size_t kMaxTextBytes = 16u << 20;  // far above any real prompt or graph
constexpr int kMaxJsonDepth = 512;
constexpr int kMaxLinkDepth = 32;  // how far a value is followed through a ComfyUI graph

// ---- Python's notion of characters, on UTF-8 bytes ---------------------------------------------
// Bytes of multi-byte characters count as word characters: Python's \w takes letters of every
// script, and the few non-ASCII symbols this misjudges do not occur in infotext keys.

bool isSpace(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

bool isWord(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

bool isKeyChar(unsigned char c)
{
    return isWord(c) || c == ' ' || c == '-' || c == '/';
}

std::string_view strip(std::string_view s)
{
    while (!s.empty() && isSpace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && isSpace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

// json.dumps(s, ensure_ascii=False).
std::string jsonQuoted(std::string_view s)
{
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "\"";
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
            if (c < 0x20) {
                out += "\\u00";
                out += hex[c >> 4];
                out += hex[c & 15];
            } else {
                out += ch;
            }
        }
    }
    return out + "\"";
}

// A1111's quote(): only values with a comma, a line break or a colon are quoted.
std::string quote(const std::string& value)
{
    return value.find_first_of(",\n:") == std::string::npos ? value : jsonQuoted(value);
}

// A1111's unquote(): json.loads when the value looks quoted, the text itself when that fails.
std::string unquote(const std::string& value)
{
    if (value.empty() || value.front() != '"' || value.back() != '"') return value;
    json parsed = json::parse(value, nullptr, false);
    return parsed.is_string() ? parsed.get<std::string>() : value;
}

// re_param.findall(line) with re_param = \s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$),
// written out so that it runs in linear time and without recursion on any input.
std::vector<std::pair<std::string, std::string>> findParams(std::string_view line)
{
    std::vector<std::pair<std::string, std::string>> out;
    const std::size_t n = line.size();
    auto at = [&](std::size_t i) { return static_cast<unsigned char>(line[i]); };
    std::size_t p = 0;
    while (p < n) {
        std::size_t q = p;
        while (q < n && isSpace(at(q))) ++q;
        if (q == n || !isWord(at(q))) {
            p = q + 1;  // every start up to q skips the same blanks to the same non-word character
            continue;
        }
        std::size_t r = q + 1;
        while (r < n && isKeyChar(at(r))) ++r;
        if (r - q < 2 || r == n || line[r] != ':') {
            p = r;  // a start inside the run ends at the same r, which is no colon
            continue;
        }
        std::size_t v = r + 1;
        while (v < n && isSpace(at(v))) ++v;
        std::size_t end = std::string_view::npos;
        if (v < n && line[v] == '"') {
            std::size_t k = v + 1;
            for (;;) {
                if (k + 1 < n && line[k] == '\\' && line[k + 1] != '\n') k += 2;
                else if (k < n && line[k] != '\\' && line[k] != '"') ++k;
                else break;
            }
            // Backtracking cannot end the quoted form earlier: only an escaped quote could close it.
            if (k > v + 1 && k < n && line[k] == '"' && (k + 1 == n || line[k + 1] == ',')) end = k + 1;
        }
        if (end == std::string_view::npos) {
            end = v;
            while (end < n && line[end] != ',') ++end;
        }
        out.emplace_back(std::string(line.substr(q, r - q)), std::string(line.substr(v, end - v)));
        p = end < n ? end + 1 : n;  // past the comma the match consumed
    }
    return out;
}

// ---- numbers -------------------------------------------------------------------------------------

template <typename T>
std::optional<T> toNumber(std::string_view s)
{
    T value{};
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) return std::nullopt;
    if constexpr (std::is_floating_point_v<T>)
        if (!std::isfinite(value)) return std::nullopt;
    return value;
}

}  // namespace

std::string formatParameterNumber(double v)
{
    if (std::abs(v) < 1e15 && v == std::floor(v)) return std::to_string(static_cast<long long>(v));
    std::array<char, 64> buf{};
    const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    return std::string(buf.data(), res.ptr);
}

namespace {

// ^(\d+)x(\d+)$ (Python's $ also matches before one final line break).
bool parseSize(std::string_view v, int& width, int& height)
{
    if (!v.empty() && v.back() == '\n') v.remove_suffix(1);
    const auto x = v.find('x');
    if (x == std::string_view::npos) return false;
    const auto digits = [](std::string_view s) {
        return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    if (!digits(v.substr(0, x)) || !digits(v.substr(x + 1))) return false;
    auto w = toNumber<int>(v.substr(0, x)), h = toNumber<int>(v.substr(x + 1));
    if (!w || !h) return false;
    width = *w;
    height = *h;
    return true;
}

// A1111's create_infotext order; "" marks where extra_generation_params go.
constexpr std::array<std::string_view, 29> kKeyOrder = {
    "Steps", "Sampler", "Schedule type", "CFG scale", "Image CFG scale", "Seed", "Face restoration", "Size",
    "Model hash", "Model", "FP8 weight", "Cache FP16 weight for LoRA", "VAE hash", "VAE", "Variation seed",
    "Variation seed strength", "Seed resize from", "Denoising strength", "Conditional mask weight", "Clip skip",
    "ENSD", "Token merging ratio", "Token merging ratio hr", "Init image hash", "RNG", "Tiling", "", "Version",
    "User"};

bool isOrderedKey(std::string_view key)
{
    return !key.empty() && std::find(kKeyOrder.begin(), kKeyOrder.end(), key) != kKeyOrder.end();
}

// The value a typed field gives its key, if it is set.
std::optional<std::string> typedValue(const GenerationParameters& p, std::string_view key)
{
    auto text = [](const std::string& s) { return s.empty() ? std::nullopt : std::optional<std::string>(s); };
    if (key == "Steps" && p.steps) return std::to_string(*p.steps);
    if (key == "Sampler") return text(p.sampler);
    if (key == "Schedule type") return text(p.scheduleType);
    if (key == "CFG scale" && p.cfgScale) return formatParameterNumber(*p.cfgScale);
    if (key == "Seed" && p.seed) return std::to_string(*p.seed);
    if (key == "Size" && p.width && p.height) return std::to_string(*p.width) + "x" + std::to_string(*p.height);
    if (key == "Model hash") return text(p.modelHash);
    if (key == "Model") return text(p.model);
    return std::nullopt;
}

// Fills a typed field from a parsed pair; false leaves the pair for `extra`.
bool assignTyped(GenerationParameters& p, const std::string& key, const std::string& value)
{
    if (key == "Steps") {
        if (auto v = toNumber<int>(value)) return p.steps = *v, true;
    } else if (key == "Sampler") {
        return p.sampler = value, true;
    } else if (key == "Schedule type") {
        return p.scheduleType = value, true;
    } else if (key == "CFG scale") {
        if (auto v = toNumber<double>(value)) return p.cfgScale = *v, true;
    } else if (key == "Seed") {
        if (auto v = toNumber<std::uint64_t>(value)) return p.seed = *v, true;
    } else if (key == "Size") {
        int w = 0, h = 0;
        if (parseSize(value, w, h)) return p.width = w, p.height = h, true;
    } else if (key == "Model hash") {
        return p.modelHash = value, true;
    } else if (key == "Model") {
        return p.model = value, true;
    }
    return false;
}

Error tooLarge(std::string_view what)
{
    return makeError(std::string(what) + " is larger than 16 MiB", "PNG metadata",
                     "this is not generation metadata; the image itself is unaffected");
}

// ---- ComfyUI ---------------------------------------------------------------------------------------

// Refuses nesting the parser would take deep (it is iterative, but callers of the tree may not be).
bool nestingWithin(std::string_view text, int limit)
{
    int depth = 0;
    bool inString = false, escaped = false;
    for (char c : text) {
        if (inString) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') inString = false;
        } else if (c == '"') {
            inString = true;
        } else if (c == '[' || c == '{') {
            if (++depth > limit) return false;
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return true;
}

Result<json> parseJson(std::string_view text, std::string_view chunk)
{
    const std::string where = "PNG text chunk '" + std::string(chunk) + "'";
    if (text.size() > kMaxTextBytes) return tooLarge(where);
    if (!nestingWithin(text, kMaxJsonDepth)) return makeError("the JSON nests too deeply", where);
    json parsed = json::parse(text.begin(), text.end(), nullptr, false);
    if (parsed.is_discarded()) return makeError("the text is not valid JSON", where, "the file may be truncated");
    if (!parsed.is_object()) return makeError("the JSON is not a ComfyUI graph", where);
    return parsed;
}

std::optional<double> jsonNumber(const json& v)
{
    if (!v.is_number()) return std::nullopt;
    const double d = v.get<double>();
    return std::isfinite(d) ? std::optional<double>(d) : std::nullopt;
}

std::optional<std::int64_t> jsonInt(const json& v, std::int64_t lo, std::int64_t hi)
{
    if (v.is_number_integer() && !v.is_number_unsigned()) {
        const auto i = v.get<std::int64_t>();
        if (i >= lo && i <= hi) return i;
    } else if (v.is_number_unsigned()) {
        const auto u = v.get<std::uint64_t>();
        if (u <= static_cast<std::uint64_t>(hi)) return static_cast<std::int64_t>(u);
    } else if (auto d = jsonNumber(v); d && *d == std::floor(*d) && *d >= static_cast<double>(lo) &&
                                         *d <= static_cast<double>(hi)) {
        return static_cast<std::int64_t>(*d);
    }
    return std::nullopt;
}

std::optional<std::uint64_t> jsonSeed(const json& v)
{
    if (v.is_number_unsigned()) return v.get<std::uint64_t>();
    if (auto i = jsonInt(v, 0, std::numeric_limits<std::int64_t>::max())) return static_cast<std::uint64_t>(*i);
    return std::nullopt;
}

// A ComfyUI API graph: {"id": {"class_type": ..., "inputs": {name: value or [source id, slot]}}}.
class ComfyGraph {
public:
    explicit ComfyGraph(const json& graph) : graph_(graph) {}

    static bool isLink(const json& v)
    {
        return v.is_array() && v.size() == 2 && (v[0].is_string() || v[0].is_number_integer()) && v[1].is_number();
    }

    const json* node(const json& link) const
    {
        if (!isLink(link)) return nullptr;
        const std::string id = link[0].is_string() ? link[0].get<std::string>() : std::to_string(link[0].get<std::int64_t>());
        auto it = graph_.find(id);
        return it != graph_.end() && it->is_object() ? &*it : nullptr;
    }

    static std::string classType(const json& node)
    {
        auto it = node.find("class_type");
        return it != node.end() && it->is_string() ? it->get<std::string>() : std::string();
    }

    static const json* inputs(const json& node)
    {
        auto it = node.find("inputs");
        return it != node.end() && it->is_object() ? &*it : nullptr;
    }

    static const json* input(const json& node, std::string_view name)
    {
        const json* in = inputs(node);
        if (!in) return nullptr;
        auto it = in->find(std::string(name));
        return it != in->end() ? &*it : nullptr;
    }

    // A widget value, following links (a seed or text node feeding it) through inputs of the same
    // name or a primitive's "value" / "seed" / "text" / "string".
    const json* value(const json* v, std::string_view name, int depth = 0) const
    {
        if (!v || !isLink(*v)) return v;
        const json* source = depth < kMaxLinkDepth ? node(*v) : nullptr;
        if (!source) return nullptr;
        for (std::string_view key : {name, std::string_view("value"), std::string_view("seed"),
                                     std::string_view("text"), std::string_view("string"), std::string_view("int")})
            if (const json* next = input(*source, key)) return value(next, name, depth + 1);
        return nullptr;
    }

    // Walks back from `start` through the graph until `found` accepts a node: first through the
    // inputs named in `preferred`, then through any linked input. Cycles and depth are bounded.
    const json* search(const json* start, const std::vector<std::string_view>& preferred,
                       const std::function<bool(const json&)>& found) const
    {
        std::set<const json*> seen;
        std::function<const json*(const json*, int)> walk = [&](const json* link, int depth) -> const json* {
            const json* n = link && depth < kMaxLinkDepth ? node(*link) : nullptr;
            if (!n || !seen.insert(n).second) return nullptr;
            if (found(*n)) return n;
            const json* in = inputs(*n);
            if (!in) return nullptr;
            for (std::string_view key : preferred)
                if (auto it = in->find(std::string(key)); it != in->end())
                    if (const json* hit = walk(&*it, depth + 1)) return hit;
            for (const auto& item : in->items())
                if (isLink(item.value()))
                    if (const json* hit = walk(&item.value(), depth + 1)) return hit;
            return nullptr;
        };
        return walk(start, 0);
    }

private:
    const json& graph_;
};

bool isSamplerNode(const json& node)
{
    const std::string type = ComfyGraph::classType(node);
    return type.find("KSampler") != std::string::npos && ComfyGraph::inputs(node);
}

bool hasSize(const json& node)
{
    return ComfyGraph::input(node, "width") && ComfyGraph::input(node, "height");
}

std::string comfySamplerLabel(const std::string& name)
{
    static const std::map<std::string, std::string> labels = {
        {"euler", "Euler"}, {"euler_ancestral", "Euler a"}, {"heun", "Heun"}, {"lms", "LMS"},
        {"dpmpp_2m", "DPM++ 2M"}, {"ddim", "DDIM"}, {"dpm_2", "DPM2"}, {"dpm_2_ancestral", "DPM2 a"},
        {"dpmpp_2s_ancestral", "DPM++ 2S a"}, {"dpmpp_sde", "DPM++ SDE"}, {"dpmpp_2m_sde", "DPM++ 2M SDE"},
        {"dpmpp_3m_sde", "DPM++ 3M SDE"}, {"dpm_fast", "DPM fast"}, {"dpm_adaptive", "DPM adaptive"},
        {"uni_pc", "UniPC"}, {"lcm", "LCM"}, {"restart", "Restart"}};
    auto it = labels.find(name);
    return it != labels.end() ? it->second : name;
}

std::string comfyScheduleLabel(const std::string& name)
{
    static const std::map<std::string, std::string> labels = {
        {"normal", "Normal"}, {"karras", "Karras"}, {"exponential", "Exponential"}, {"sgm_uniform", "SGM Uniform"},
        {"simple", "Simple"}, {"ddim_uniform", "DDIM"}, {"beta", "Beta"}, {"kl_optimal", "KL Optimal"},
        {"align_your_steps", "Align Your Steps"}};
    auto it = labels.find(name);
    return it != labels.end() ? it->second : name;
}

// "models/sd/v1-5.safetensors" -> "v1-5", as A1111 names a checkpoint in the infotext.
std::string checkpointStem(std::string name)
{
    if (auto slash = name.find_last_of("/\\"); slash != std::string::npos) name.erase(0, slash + 1);
    if (auto dot = name.rfind('.'); dot != std::string::npos && dot > 0) name.erase(dot);
    return name;
}

GenerationParameters readComfyGraph(const ComfyGraph& g, const json& sampler)
{
    GenerationParameters p;
    auto str = [&](std::string_view key) -> std::optional<std::string> {
        const json* v = g.value(ComfyGraph::input(sampler, key), key);
        return v && v->is_string() ? std::optional<std::string>(v->get<std::string>()) : std::nullopt;
    };
    const json* seed = g.value(ComfyGraph::input(sampler, "seed"), "seed");
    if (!seed) seed = g.value(ComfyGraph::input(sampler, "noise_seed"), "noise_seed");
    if (seed) p.seed = jsonSeed(*seed);
    if (const json* steps = g.value(ComfyGraph::input(sampler, "steps"), "steps"))
        if (auto v = jsonInt(*steps, 0, std::numeric_limits<int>::max())) p.steps = static_cast<int>(*v);
    if (const json* cfg = g.value(ComfyGraph::input(sampler, "cfg"), "cfg")) p.cfgScale = jsonNumber(*cfg);
    if (auto name = str("sampler_name")) p.sampler = comfySamplerLabel(*name);
    if (auto name = str("scheduler")) p.scheduleType = comfyScheduleLabel(*name);
    if (const json* denoise = g.value(ComfyGraph::input(sampler, "denoise"), "denoise"))
        if (auto v = jsonNumber(*denoise); v && *v != 1.0) p.set("Denoising strength", formatParameterNumber(*v));

    auto promptText = [&](std::string_view role) -> std::string {
        const json* encoder = g.search(ComfyGraph::input(sampler, role), {"conditioning", role}, [](const json& n) {
            return ComfyGraph::input(n, "text") || ComfyGraph::input(n, "text_g");
        });
        if (!encoder) return {};
        const json* text = g.value(ComfyGraph::input(*encoder, "text"), "text");
        if (!text) text = g.value(ComfyGraph::input(*encoder, "text_g"), "text_g");
        return text && text->is_string() ? text->get<std::string>() : std::string();
    };
    p.prompt = promptText("positive");
    p.negativePrompt = promptText("negative");

    if (const json* latent = g.search(ComfyGraph::input(sampler, "latent_image"), {"samples"}, hasSize)) {
        const json* w = g.value(ComfyGraph::input(*latent, "width"), "width");
        const json* h = g.value(ComfyGraph::input(*latent, "height"), "height");
        auto wi = w ? jsonInt(*w, 1, std::numeric_limits<int>::max()) : std::nullopt;
        auto hi = h ? jsonInt(*h, 1, std::numeric_limits<int>::max()) : std::nullopt;
        if (wi && hi) p.width = static_cast<int>(*wi), p.height = static_cast<int>(*hi);
    }
    const json* loader = g.search(ComfyGraph::input(sampler, "model"), {"model"}, [](const json& n) {
        return ComfyGraph::input(n, "ckpt_name") || ComfyGraph::input(n, "unet_name");
    });
    if (loader) {
        const json* name = g.value(ComfyGraph::input(*loader, "ckpt_name"), "ckpt_name");
        if (!name) name = g.value(ComfyGraph::input(*loader, "unet_name"), "unet_name");
        if (name && name->is_string()) p.model = checkpointStem(name->get<std::string>());
    }
    return p;
}

// Node ids in numeric order where they are numbers, so "the first sampler" means what it shows.
std::vector<const json*> samplersInOrder(const json& graph)
{
    std::vector<std::pair<std::string, const json*>> found;
    for (const auto& item : graph.items())
        if (item.value().is_object() && isSamplerNode(item.value())) found.emplace_back(item.key(), &item.value());
    std::stable_sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
        auto x = toNumber<long long>(a.first), y = toNumber<long long>(b.first);
        if (x && y) return *x < *y;
        return x.has_value() && !y.has_value();
    });
    std::vector<const json*> out;
    for (const auto& f : found) out.push_back(f.second);
    return out;
}

Result<GenerationParameters> readApiGraph(const json& graph, std::string_view chunk)
{
    const ComfyGraph g(graph);
    const auto samplers = samplersInOrder(graph);
    if (samplers.empty())
        return makeError("the ComfyUI graph has no KSampler node", "PNG text chunk '" + std::string(chunk) + "'");
    // With a hires pass the first-pass sampler is the one fed by an empty latent, as A1111's
    // infotext describes the first pass.
    for (const json* s : samplers) {
        const json* latent = g.search(ComfyGraph::input(*s, "latent_image"), {"samples"}, hasSize);
        if (latent && ComfyGraph::classType(*latent).find("Empty") != std::string::npos) return readComfyGraph(g, *s);
    }
    return readComfyGraph(g, *samplers.front());
}

// Widget names for the nodes we read, in widgets_values order. "control_after_generate" follows
// a seed only when the UI saved it, which shows as a string in that place.
const std::vector<std::string>* widgetNames(const std::string& type)
{
    static const std::map<std::string, std::vector<std::string>> names = {
        {"KSampler", {"seed", "control_after_generate", "steps", "cfg", "sampler_name", "scheduler", "denoise"}},
        {"KSamplerAdvanced",
         {"add_noise", "noise_seed", "control_after_generate", "steps", "cfg", "sampler_name", "scheduler",
          "start_at_step", "end_at_step", "return_with_leftover_noise"}},
        {"CLIPTextEncode", {"text"}},
        {"EmptyLatentImage", {"width", "height", "batch_size"}},
        {"CheckpointLoaderSimple", {"ckpt_name"}},
        {"CheckpointLoader", {"config_name", "ckpt_name"}},
        {"UNETLoader", {"unet_name", "weight_dtype"}},
    };
    auto it = names.find(type);
    return it != names.end() ? &it->second : nullptr;
}

// A UI graph ({"nodes": [...], "links": [...]}) rewritten as an API graph, so one reader serves both.
json apiGraphFromWorkflow(const json& workflow)
{
    std::map<std::int64_t, std::pair<std::int64_t, std::int64_t>> linkSource;  // link id -> (node, slot)
    if (auto links = workflow.find("links"); links != workflow.end() && links->is_array()) {
        for (const auto& l : *links) {
            std::optional<std::int64_t> id, from, slot;
            if (l.is_array() && l.size() >= 3) {
                id = jsonInt(l[0], 0, INT64_MAX), from = jsonInt(l[1], INT64_MIN, INT64_MAX), slot = jsonInt(l[2], 0, INT64_MAX);
            } else if (l.is_object() && l.contains("id") && l.contains("origin_id") && l.contains("origin_slot")) {
                id = jsonInt(l["id"], 0, INT64_MAX), from = jsonInt(l["origin_id"], INT64_MIN, INT64_MAX),
                slot = jsonInt(l["origin_slot"], 0, INT64_MAX);
            }
            if (id && from && slot) linkSource[*id] = {*from, *slot};
        }
    }
    json graph = json::object();
    auto nodes = workflow.find("nodes");
    if (nodes == workflow.end() || !nodes->is_array()) return graph;
    for (const auto& n : *nodes) {
        if (!n.is_object()) continue;
        auto id = n.contains("id") ? jsonInt(n["id"], INT64_MIN, INT64_MAX) : std::nullopt;
        if (!id || !n.contains("type") || !n["type"].is_string()) continue;
        const std::string type = n["type"].get<std::string>();
        json inputs = json::object();
        if (auto widgets = n.find("widgets_values"); widgets != n.end() && widgets->is_array()) {
            if (const auto* names = widgetNames(type)) {
                std::size_t w = 0;
                for (const std::string& name : *names) {
                    if (w >= widgets->size()) break;
                    if (name == "control_after_generate" && !(*widgets)[w].is_string()) continue;
                    inputs[name] = (*widgets)[w++];
                }
            }
        }
        if (auto in = n.find("inputs"); in != n.end() && in->is_array()) {
            for (const auto& input : *in) {
                if (!input.is_object() || !input.contains("name") || !input["name"].is_string()) continue;
                auto link = input.contains("link") ? jsonInt(input["link"], 0, INT64_MAX) : std::nullopt;
                auto source = link ? linkSource.find(*link) : linkSource.end();
                if (source != linkSource.end())
                    inputs[input["name"].get<std::string>()] =
                        json::array({std::to_string(source->second.first), source->second.second});
            }
        }
        graph[std::to_string(*id)] = json{{"class_type", type}, {"inputs", std::move(inputs)}};
    }
    return graph;
}

}  // namespace

const std::string* GenerationParameters::find(std::string_view key) const
{
    for (const auto& [k, v] : extra)
        if (k == key) return &v;
    return nullptr;
}

void GenerationParameters::set(std::string_view key, std::string value)
{
    for (auto& [k, v] : extra)
        if (k == key) return void(v = std::move(value));
    extra.emplace_back(std::string(key), std::move(value));
}

std::string formatParameters(const GenerationParameters& p)
{
    std::string line;
    auto emit = [&](std::string_view key, const std::string& value) {
        if (!line.empty()) line += ", ";
        line += key;
        if (value != key) line += ": " + quote(value);
    };
    for (std::string_view key : kKeyOrder) {
        if (key.empty()) {
            for (const auto& [k, v] : p.extra)
                if (!isOrderedKey(k)) emit(k, v);
            continue;
        }
        if (auto v = typedValue(p, key)) emit(key, *v);
        else if (const std::string* v = p.find(key)) emit(key, *v);
    }
    std::string text = p.prompt;
    if (!p.negativePrompt.empty()) text += "\nNegative prompt: " + p.negativePrompt;
    text += "\n" + line;
    return std::string(strip(text));
}

Result<GenerationParameters> parseParameters(std::string_view text)
{
    if (text.size() > kMaxTextBytes) return tooLarge("the parameters text");
    try {
        GenerationParameters p;
        std::vector<std::string_view> lines;
        const std::string_view all = strip(text);
        for (std::size_t start = 0;;) {
            const std::size_t nl = all.find('\n', start);
            lines.push_back(all.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start));
            if (nl == std::string_view::npos) break;
            start = nl + 1;
        }
        auto params = findParams(lines.back());
        if (params.size() >= 3) lines.pop_back();
        else params.clear();

        bool negative = false;
        for (std::string_view raw : lines) {
            std::string_view line = strip(raw);
            if (line.substr(0, 16) == "Negative prompt:") {
                negative = true;
                line = strip(line.substr(16));
            }
            std::string& target = negative ? p.negativePrompt : p.prompt;
            if (!target.empty()) target += '\n';
            target += line;
        }
        for (auto& [key, raw] : params) {
            if (raw.empty()) continue;  // A1111 fails on v[0] and skips the pair
            const std::string value = raw.front() == '"' && raw.back() == '"' ? unquote(raw) : raw;
            if (!assignTyped(p, key, value)) p.set(key, value);
        }
        return p;
    } catch (const std::exception& e) {
        return makeError(std::string("could not read the parameters: ") + e.what(), "PNG text chunk 'parameters'");
    }
}

Result<GenerationParameters> parseComfyUi(std::string_view promptJson, std::string_view workflowJson)
{
    try {
        std::optional<Error> firstError;
        if (!promptJson.empty()) {
            auto graph = parseJson(promptJson, "prompt");
            if (graph) {
                auto read = readApiGraph(*graph, "prompt");
                if (read || workflowJson.empty()) return read;
                firstError = read.error();
            } else if (workflowJson.empty()) {
                return graph.error();
            } else {
                firstError = graph.error();
            }
        }
        if (workflowJson.empty()) return makeError("no ComfyUI graph to read", "PNG metadata");
        auto workflow = parseJson(workflowJson, "workflow");
        if (!workflow) return firstError ? *firstError : workflow.error();
        auto read = readApiGraph(apiGraphFromWorkflow(*workflow), "workflow");
        if (!read && firstError) return *firstError;
        return read;
    } catch (const std::exception& e) {
        return makeError(std::string("could not read the ComfyUI graph: ") + e.what(), "PNG metadata");
    }
}

Result<GenerationParameters> parametersFromPngText(const std::vector<std::pair<std::string, std::string>>& chunks)
{
    const std::string *parameters = nullptr, *prompt = nullptr, *workflow = nullptr;
    for (const auto& [key, text] : chunks) {
        if (key == "parameters" && !parameters) parameters = &text;
        else if (key == "prompt" && !prompt) prompt = &text;
        else if (key == "workflow" && !workflow) workflow = &text;
    }
    if (parameters) return parseParameters(*parameters);
    if (prompt || workflow) return parseComfyUi(prompt ? *prompt : std::string_view(), workflow ? *workflow : std::string_view());
    return makeError("the image carries no generation parameters", "PNG metadata",
                     "only A1111 'parameters' and ComfyUI 'prompt'/'workflow' text chunks are read");
}

}  // namespace kiln::diffusion
