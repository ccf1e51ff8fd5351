// The opcode loop of the pickle reader (protocols 0-5). It only moves values between the
// stack, the memo and the graph; every meaning beyond that lives in pickle_calls.cpp.
#include "io/pickle_internal.h"

#include <charconv>
#include <cstring>
#include <limits>
#include <new>

namespace kiln::io::pickle {
namespace {

using detail::fail;
using detail::unwrap;

// Decimal literals (protocol 0 INT/LONG) longer than this are refused: converting them
// costs quadratic time and no checkpoint writes one.
constexpr std::size_t kMaxDecimalDigits = 1024;

std::string opcodeLabel(std::uint8_t op)
{
    char buf[8];
    if (op >= 0x20 && op < 0x7f) {
        buf[0] = '\'';
        buf[1] = static_cast<char>(op);
        buf[2] = '\'';
        buf[3] = 0;
    } else {
        static const char* hex = "0123456789abcdef";
        buf[0] = '0'; buf[1] = 'x'; buf[2] = hex[op >> 4]; buf[3] = hex[op & 15]; buf[4] = 0;
    }
    return buf;
}

// Little-endian two's complement bytes -> int64 when it fits.
std::optional<std::int64_t> smallInt(std::string_view le)
{
    if (le.empty()) return 0;
    const bool negative = static_cast<std::uint8_t>(le.back()) & 0x80;
    const std::uint8_t fill = negative ? 0xff : 0x00;
    std::size_t n = le.size();
    while (n > 8) {
        if (static_cast<std::uint8_t>(le[n - 1]) != fill) return std::nullopt;
        --n;
    }
    // Dropping fill bytes must not change the sign the remaining top byte implies.
    if (le.size() > 8 && ((static_cast<std::uint8_t>(le[7]) & 0x80) != 0) != negative) return std::nullopt;
    std::uint64_t v = negative ? ~std::uint64_t{0} : 0;
    for (std::size_t i = 0; i < n; ++i) {
        v &= ~(std::uint64_t{0xff} << (8 * i));
        v |= std::uint64_t{static_cast<std::uint8_t>(le[i])} << (8 * i);
    }
    return static_cast<std::int64_t>(v);
}

class Machine {
public:
    Machine(PickleGraph& g, std::span<const std::uint8_t> bytes, std::size_t& pos, const UnpickleOptions& o)
        : g_(g), bytes_(bytes), pos_(pos), opt_(o) {}

    Ref run();
    std::size_t opStart() const { return opStart_; }
    std::uint8_t op() const { return op_; }

private:
    PickleGraph& g_;
    std::span<const std::uint8_t> bytes_;
    std::size_t& pos_;
    const UnpickleOptions& opt_;
    std::vector<Ref> stack_;
    std::vector<std::size_t> marks_;
    std::unordered_map<std::uint32_t, Ref> memo_;
    std::size_t opStart_ = 0;
    std::uint8_t op_ = 0;

    std::size_t remaining() const { return bytes_.size() - pos_; }
    const std::uint8_t* take(std::uint64_t n)
    {
        if (n > remaining())
            fail("it needs " + std::to_string(n) + " more bytes but only " + std::to_string(remaining()) +
                 " remain (truncated or damaged pickle)");
        const std::uint8_t* p = bytes_.data() + pos_;
        pos_ += static_cast<std::size_t>(n);
        return p;
    }
    std::uint64_t uintLE(int n)
    {
        const std::uint8_t* p = take(static_cast<std::uint64_t>(n));
        std::uint64_t v = 0;
        for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
        return v;
    }
    std::string_view line()
    {
        const std::uint8_t* start = bytes_.data() + pos_;
        const void* nl = std::memchr(start, '\n', remaining());
        if (!nl) fail("its text argument has no terminating newline (truncated pickle)");
        const std::size_t n = static_cast<const std::uint8_t*>(nl) - start;
        pos_ += n + 1;
        std::string_view s(reinterpret_cast<const char*>(start), n);
        if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
        return s;
    }
    std::string bytesOf(std::uint64_t n)
    {
        const std::uint8_t* p = take(n);
        return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
    }

    std::size_t base() const { return marks_.empty() ? 0 : marks_.back(); }
    Ref pop()
    {
        if (stack_.size() <= base()) fail("the stack is empty here (stack underflow)");
        Ref r = stack_.back();
        stack_.pop_back();
        return r;
    }
    Ref& top()
    {
        if (stack_.size() <= base()) fail("the stack is empty here (stack underflow)");
        return stack_.back();
    }
    std::vector<Ref> popMark()
    {
        if (marks_.empty()) fail("it needs a MARK on the stack, but there is none");
        const std::size_t m = marks_.back();
        marks_.pop_back();
        std::vector<Ref> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
        stack_.resize(m);
        return items;
    }
    void push(Ref r) { stack_.push_back(r); }
    Ref container(Kind k, std::vector<Ref> items = {})
    {
        Node n;
        n.kind = k;
        n.items = std::move(items);
        return unwrap(g_.add(std::move(n)));
    }
    Ref memoGet(std::uint64_t idx)
    {
        auto it = idx <= std::numeric_limits<std::uint32_t>::max() ? memo_.find(static_cast<std::uint32_t>(idx)) : memo_.end();
        if (it == memo_.end()) fail("it reads memo slot " + std::to_string(idx) + ", which was never stored");
        return it->second;
    }
    void memoPut(std::uint64_t idx)
    {
        if (idx > std::numeric_limits<std::uint32_t>::max()) fail("memo slot " + std::to_string(idx) + " is too large");
        memo_[static_cast<std::uint32_t>(idx)] = top();
    }
    std::uint64_t decimalIndex()
    {
        std::string_view s = line();
        std::uint64_t v = 0;
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec != std::errc() || p != s.data() + s.size()) fail("expected a decimal memo index, found '" + std::string(s.substr(0, 40)) + "'");
        return v;
    }

    Ref intFromLE(std::string le)
    {
        if (auto v = smallInt(le)) return unwrap(g_.makeInt(*v));
        return unwrap(g_.makeStr(Kind::BigInt, std::move(le)));
    }
    Ref decimalInt(std::string_view s);
    Ref global(std::string module, std::string name)
    {
        module = detail::normalizeModule(module);
        detail::checkGlobal(module, name);
        return unwrap(g_.makeGlobal(std::move(module), std::move(name)));
    }
    Ref persistent(Ref pid)
    {
        if (!opt_.persistentLoad)
            fail("the pickle refers to external data (a persistent id), which this reader was not given");
        auto r = opt_.persistentLoad(g_, pid);
        if (!r) throw detail::Failure{r.error().what, r.error().hint};
        return r.value();
    }
    void appendTo(Ref target, const std::vector<Ref>& items);
    void setItems(Ref target, const std::vector<Ref>& kv);
    void step();
    bool done_ = false;
    Ref result_ = PickleGraph::kNone;
};

Ref Machine::decimalInt(std::string_view s)
{
    if (!s.empty() && (s.back() == 'L')) s.remove_suffix(1);
    bool negative = false;
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
        negative = s[0] == '-';
        s.remove_prefix(1);
    }
    if (s.empty() || s.size() > kMaxDecimalDigits || s.find_first_not_of("0123456789") != std::string_view::npos)
        fail("expected a decimal integer, found '" + std::string(s.substr(0, 40)) + "'");
    std::uint64_t small = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), small);
    if (ec == std::errc() && small <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        return unwrap(g_.makeInt(negative ? -static_cast<std::int64_t>(small) : static_cast<std::int64_t>(small)));
    // Too large for 64 bits: build the little-endian magnitude digit by digit, then negate.
    std::string mag(1, '\0');
    for (char c : s) {
        unsigned carry = static_cast<unsigned>(c - '0');
        for (char& byte : mag) {
            const unsigned v = static_cast<unsigned char>(byte) * 10u + carry;
            byte = static_cast<char>(v & 0xff);
            carry = v >> 8;
        }
        while (carry) {
            mag.push_back(static_cast<char>(carry & 0xff));
            carry >>= 8;
        }
    }
    mag.push_back('\0');  // room for the sign bit
    if (negative) {
        unsigned carry = 1;
        for (char& byte : mag) {
            const unsigned v = static_cast<unsigned char>(~static_cast<unsigned char>(byte)) + carry;
            byte = static_cast<char>(v & 0xff);
            carry = v >> 8;
        }
    }
    return intFromLE(std::move(mag));
}

// Python 2 repr / raw-unicode-escape text arguments of STRING and UNICODE.
std::string unescape(std::string_view s, bool unicodeOnly)
{
    auto utf8 = [](std::string& out, std::uint32_t cp) {
        if (cp > 0x10FFFF) cp = 0xFFFD;
        if (cp < 0x80) out += static_cast<char>(cp);
        else if (cp < 0x800) { out += static_cast<char>(0xC0 | (cp >> 6)); out += static_cast<char>(0x80 | (cp & 0x3F)); }
        else if (cp < 0x10000) { out += static_cast<char>(0xE0 | (cp >> 12)); out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F)); out += static_cast<char>(0x80 | (cp & 0x3F)); }
        else { out += static_cast<char>(0xF0 | (cp >> 18)); out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F)); out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F)); out += static_cast<char>(0x80 | (cp & 0x3F)); }
    };
    auto hexValue = [&](std::size_t at, std::size_t n) -> std::optional<std::uint32_t> {
        if (at + n > s.size()) return std::nullopt;
        std::uint32_t v = 0;
        auto [p, ec] = std::from_chars(s.data() + at, s.data() + at + n, v, 16);
        if (ec != std::errc() || p != s.data() + at + n) return std::nullopt;
        return v;
    };
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (c != '\\' || i + 1 >= s.size()) {
            if (unicodeOnly) utf8(out, c);  // raw-unicode-escape: other bytes are Latin-1
            else out += static_cast<char>(c);
            continue;
        }
        const char e = s[i + 1];
        if (e == 'u' || e == 'U') {
            const std::size_t n = e == 'u' ? 4 : 8;
            if (auto v = hexValue(i + 2, n)) { utf8(out, *v); i += 1 + n; continue; }
        }
        if (unicodeOnly) { out += '\\'; continue; }
        switch (e) {
        case 'n': out += '\n'; ++i; continue;
        case 't': out += '\t'; ++i; continue;
        case 'r': out += '\r'; ++i; continue;
        case '\\': out += '\\'; ++i; continue;
        case '\'': out += '\''; ++i; continue;
        case '"': out += '"'; ++i; continue;
        case 'x':
            if (auto v = hexValue(i + 2, 2)) { out += static_cast<char>(*v); i += 3; continue; }
            break;
        default:
            if (e >= '0' && e <= '7') {
                std::uint32_t v = 0;
                std::size_t j = i + 1;
                for (; j < s.size() && j < i + 4 && s[j] >= '0' && s[j] <= '7'; ++j) v = v * 8 + static_cast<std::uint32_t>(s[j] - '0');
                out += static_cast<char>(v & 0xff);
                i = j - 1;
                continue;
            }
        }
        out += '\\';
    }
    return out;
}

void Machine::appendTo(Ref target, const std::vector<Ref>& items)
{
    Node& t = g_.mut(target);
    if (t.kind == Kind::List) {
        t.items.insert(t.items.end(), items.begin(), items.end());
    } else if (t.kind == Kind::Object) {
        // A list subclass: keep its items beside the inert record.
        Ref& slot = t.items[kObjListItems];
        if (slot == PickleGraph::kNone) {
            const Ref list = container(Kind::List);
            g_.mut(target).items[kObjListItems] = list;  // `t` may have moved with the arena
            g_.mut(list).items = items;
        } else {
            auto& dst = g_.mut(slot).items;
            dst.insert(dst.end(), items.begin(), items.end());
        }
    } else {
        fail(std::string("it appends to a ") + detail::kindName(t.kind) + ", expected a list");
    }
}

void Machine::setItems(Ref target, const std::vector<Ref>& kv)
{
    if (kv.size() % 2) fail("it needs key/value pairs, found an odd number of items (" + std::to_string(kv.size()) + ")");
    Ref dict = target;
    const Kind k = g_.at(target).kind;
    if (k == Kind::Object) {
        dict = g_.at(target).items[kObjDictItems];
        if (dict == PickleGraph::kNone) {
            dict = container(Kind::Dict);
            g_.mut(target).items[kObjDictItems] = dict;
        }
    } else if (k != Kind::Dict) {
        fail(std::string("it sets items on a ") + detail::kindName(k) + ", expected a dict");
    }
    for (std::size_t i = 0; i < kv.size(); i += 2) g_.dictSet(dict, kv[i], kv[i + 1]);
}

Ref Machine::run()
{
    while (!done_) {
        if (pos_ >= bytes_.size())
            fail("the pickle ends without a STOP opcode (truncated or damaged)");
        step();
    }
    return result_;
}

void Machine::step()
{
    opStart_ = pos_;
    op_ = bytes_[pos_++];
    switch (op_) {
    case 0x80: {  // PROTO
        const unsigned v = *take(1);
        if (v > 5) fail("it asks for pickle protocol " + std::to_string(v) + ", newer than 5, the newest known");
        break;
    }
    case 0x95: {  // FRAME: only a read-ahead hint, but its length must be honest
        const std::uint64_t n = uintLE(8);
        if (n > remaining()) fail("the frame claims " + std::to_string(n) + " bytes but only " + std::to_string(remaining()) + " remain");
        break;
    }
    case '.': result_ = pop(); done_ = true; break;  // STOP
    case '(': marks_.push_back(stack_.size()); break;  // MARK
    case '0':  // POP: Python pops the mark itself when nothing sits above it
        if (stack_.size() > base()) stack_.pop_back();
        else popMark();
        break;
    case '1': popMark(); break;  // POP_MARK
    case '2': { const Ref r = top(); push(r); break; }  // DUP

    case 'I': {  // INT; protocol 0 writes booleans as I01 / I00
        const std::string_view s = line();
        if (s == "01") push(PickleGraph::kTrue);
        else if (s == "00") push(PickleGraph::kFalse);
        else push(decimalInt(s));
        break;
    }
    case 'J': push(unwrap(g_.makeInt(static_cast<std::int32_t>(uintLE(4))))); break;  // BININT
    case 'K': push(unwrap(g_.makeInt(static_cast<std::int64_t>(uintLE(1))))); break;  // BININT1
    case 'M': push(unwrap(g_.makeInt(static_cast<std::int64_t>(uintLE(2))))); break;  // BININT2
    case 'L': push(decimalInt(line())); break;  // LONG
    case 0x8a: push(intFromLE(bytesOf(uintLE(1)))); break;  // LONG1
    case 0x8b: {  // LONG4
        const std::int32_t n = static_cast<std::int32_t>(uintLE(4));
        if (n < 0) fail("negative byte count " + std::to_string(n));
        push(intFromLE(bytesOf(static_cast<std::uint64_t>(n))));
        break;
    }
    case 'F': {  // FLOAT
        const std::string_view s = line();
        Node n;
        n.kind = Kind::Float;
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n.real);
        if (ec != std::errc() || p != s.data() + s.size()) fail("expected a decimal float, found '" + std::string(s.substr(0, 40)) + "'");
        push(unwrap(g_.add(std::move(n))));
        break;
    }
    case 'G': {  // BINFLOAT, big-endian
        const std::uint8_t* p = take(8);
        std::uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | p[i];
        Node n;
        n.kind = Kind::Float;
        std::memcpy(&n.real, &bits, 8);
        push(unwrap(g_.add(std::move(n))));
        break;
    }

    case 'S': {  // STRING: a quoted Python 2 repr
        std::string_view s = line();
        if (s.size() < 2 || (s.front() != '\'' && s.front() != '"') || s.back() != s.front())
            fail("expected a quoted string, found '" + std::string(s.substr(0, 40)) + "'");
        push(unwrap(g_.makeStr(Kind::Str, unescape(s.substr(1, s.size() - 2), false))));
        break;
    }
    case 'T': {  // BINSTRING
        const std::int32_t n = static_cast<std::int32_t>(uintLE(4));
        if (n < 0) fail("negative string length " + std::to_string(n));
        push(unwrap(g_.makeStr(Kind::Str, bytesOf(static_cast<std::uint64_t>(n)))));
        break;
    }
    case 'U': push(unwrap(g_.makeStr(Kind::Str, bytesOf(uintLE(1))))); break;       // SHORT_BINSTRING
    case 'V': push(unwrap(g_.makeStr(Kind::Str, unescape(line(), true)))); break;  // UNICODE
    case 0x8c: push(unwrap(g_.makeStr(Kind::Str, bytesOf(uintLE(1))))); break;     // SHORT_BINUNICODE
    case 'X': push(unwrap(g_.makeStr(Kind::Str, bytesOf(uintLE(4))))); break;      // BINUNICODE
    case 0x8d: push(unwrap(g_.makeStr(Kind::Str, bytesOf(uintLE(8))))); break;     // BINUNICODE8
    case 'C': push(unwrap(g_.makeStr(Kind::Bytes, bytesOf(uintLE(1))))); break;    // SHORT_BINBYTES
    case 'B': push(unwrap(g_.makeStr(Kind::Bytes, bytesOf(uintLE(4))))); break;    // BINBYTES
    case 0x8e: push(unwrap(g_.makeStr(Kind::Bytes, bytesOf(uintLE(8))))); break;   // BINBYTES8
    case 0x96: push(unwrap(g_.makeStr(Kind::Bytes, bytesOf(uintLE(8))))); break;   // BYTEARRAY8
    case 0x97: fail("it asks for an out-of-band buffer (pickle protocol 5), which checkpoints never use");
    case 0x98: top(); break;  // READONLY_BUFFER: a no-op for an immutable reader

    case 'N': push(PickleGraph::kNone); break;
    case 0x88: push(PickleGraph::kTrue); break;
    case 0x89: push(PickleGraph::kFalse); break;

    case ']': push(container(Kind::List)); break;   // EMPTY_LIST
    case 'l': push(container(Kind::List, popMark())); break;  // LIST
    case 'a': { const Ref v = pop(); appendTo(top(), {v}); break; }  // APPEND
    case 'e': { auto items = popMark(); appendTo(top(), items); break; }  // APPENDS
    case ')': push(container(Kind::Tuple)); break;  // EMPTY_TUPLE
    case 't': push(container(Kind::Tuple, popMark())); break;  // TUPLE
    case 0x85: case 0x86: case 0x87: {  // TUPLE1..3
        const std::size_t n = op_ - 0x84u;
        if (stack_.size() < base() + n) fail("it needs " + std::to_string(n) + " items on the stack (stack underflow)");
        std::vector<Ref> items(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
        stack_.resize(stack_.size() - n);
        push(container(Kind::Tuple, std::move(items)));
        break;
    }
    case '}': push(container(Kind::Dict)); break;  // EMPTY_DICT
    case 'd': {  // DICT
        auto kv = popMark();
        const Ref d = container(Kind::Dict);
        push(d);
        setItems(d, kv);
        break;
    }
    case 's': { const Ref v = pop(); const Ref k = pop(); setItems(top(), {k, v}); break; }  // SETITEM
    case 'u': { auto kv = popMark(); setItems(top(), kv); break; }  // SETITEMS
    case 0x8f: push(container(Kind::Set)); break;  // EMPTY_SET
    case 0x90: {  // ADDITEMS
        auto items = popMark();
        const Ref s = top();
        const Kind k = g_.at(s).kind;
        if (k == Kind::Object) { appendTo(s, items); break; }
        if (k != Kind::Set) fail(std::string("it adds set items to a ") + detail::kindName(k) + ", expected a set");
        for (Ref r : items) g_.mut(s).items.push_back(r);
        break;
    }
    case 0x91: push(container(Kind::FrozenSet, popMark())); break;  // FROZENSET

    case 'g': push(memoGet(decimalIndex())); break;  // GET
    case 'h': push(memoGet(uintLE(1))); break;       // BINGET
    case 'j': push(memoGet(uintLE(4))); break;       // LONG_BINGET
    case 'p': memoPut(decimalIndex()); break;        // PUT
    case 'q': memoPut(uintLE(1)); break;             // BINPUT
    case 'r': memoPut(uintLE(4)); break;             // LONG_BINPUT
    case 0x94: memoPut(memo_.size()); break;         // MEMOIZE
    case 0x82: case 0x83: case 0x84:
        fail("it uses the copyreg extension registry (EXT opcodes), which checkpoints never use");

    case 'c': {  // GLOBAL
        std::string module(line());
        std::string name(line());
        push(global(std::move(module), std::move(name)));
        break;
    }
    case 0x93: {  // STACK_GLOBAL
        const Ref name = pop(), module = pop();
        if (g_.at(name).kind != Kind::Str || g_.at(module).kind != Kind::Str)
            fail("STACK_GLOBAL needs two strings (module, name)");
        push(global(g_.at(module).text, g_.at(name).text));
        break;
    }
    case 'R': { const Ref args = pop(); const Ref fn = pop(); push(detail::callReduce(g_, fn, args)); break; }  // REDUCE
    case 'b': { const Ref state = pop(); detail::applyBuild(g_, top(), state); break; }  // BUILD
    case 'i': {  // INST: module and name inline, constructor args since the mark
        std::string module(line());
        std::string name(line());
        auto args = popMark();
        const Ref cls = global(std::move(module), std::move(name));
        push(detail::callReduce(g_, cls, container(Kind::Tuple, std::move(args))));
        break;
    }
    case 'o': {  // OBJ: class and args since the mark
        auto items = popMark();
        if (items.empty()) fail("OBJ needs a class after the mark");
        const Ref cls = items.front();
        items.erase(items.begin());
        push(detail::callReduce(g_, cls, container(Kind::Tuple, std::move(items))));
        break;
    }
    case 0x81: { const Ref args = pop(); const Ref cls = pop(); push(detail::callNewObj(g_, cls, args, PickleGraph::kNone)); break; }
    case 0x92: {  // NEWOBJ_EX
        const Ref kwargs = pop(); const Ref args = pop(); const Ref cls = pop();
        push(detail::callNewObj(g_, cls, args, kwargs));
        break;
    }
    case 'P': push(persistent(unwrap(g_.makeStr(Kind::Str, std::string(line()))))); break;  // PERSID
    case 'Q': push(persistent(pop())); break;  // BINPERSID
    default: fail("unknown opcode (not a pickle, or a damaged one)");
    }
}

}  // namespace

Result<Ref> unpickle(PickleGraph& graph, std::span<const std::uint8_t> bytes, std::size_t& pos,
                     const UnpickleOptions& options)
{
    if (pos > bytes.size()) return makeError("pickle start lies past the end of the data", options.where);
    Machine m(graph, bytes, pos, options);
    try {
        return m.run();
    } catch (const detail::Failure& f) {
        if (f.refusal) return makeError(f.what, options.where, f.hint);
        return makeError("unreadable pickle at byte " + std::to_string(m.opStart()) + " (opcode " + opcodeLabel(m.op()) +
                             "): " + f.what,
                         options.where, f.hint.empty() ? "the file is damaged or is not a PyTorch checkpoint" : f.hint);
    } catch (const std::bad_alloc&) {
        return makeError("out of memory while reading the pickle", options.where);
    } catch (const std::length_error&) {
        return makeError("out of memory while reading the pickle", options.where);
    }
}

}  // namespace kiln::io::pickle
