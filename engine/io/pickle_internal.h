// Shared by the pickle reader's translation units; not part of its interface.
#pragma once

#include "io/pickle.h"

#include <string>

namespace kiln::io::pickle::detail {

// Thrown inside the reader, caught in unpickle(), which adds the byte position and file.
struct Failure {
    std::string what;
    std::string hint;
    bool refusal = false;  // a dangerous callable: reported without the byte position noise
};

[[noreturn]] inline void fail(std::string what, std::string hint = {}) { throw Failure{std::move(what), std::move(hint)}; }

inline Ref unwrap(Result<Ref> r)
{
    if (!r) throw Failure{r.error().what, r.error().hint};
    return r.value();
}

// What REDUCE / INST / OBJ mean for `callable` applied to the tuple `args`. Known-safe
// constructors are interpreted; anything else becomes an inert Object.
Ref callReduce(PickleGraph& g, Ref callable, Ref args);

// What NEWOBJ / NEWOBJ_EX mean: cls.__new__(cls, *args, **kwargs).
Ref callNewObj(PickleGraph& g, Ref cls, Ref args, Ref kwargs);

// What BUILD means: obj.__setstate__(state) or obj.__dict__.update(state).
void applyBuild(PickleGraph& g, Ref obj, Ref state);

// Python's name for a kind ("list", "dict", ...), for messages.
const char* kindName(Kind k);

// Throws a refusal Failure when module.name is on the deny list.
void checkGlobal(std::string_view module, std::string_view name);

// __builtin__ -> builtins and the other Python 2 names Python 3's unpickler maps.
std::string normalizeModule(std::string_view module);

}  // namespace kiln::io::pickle::detail
