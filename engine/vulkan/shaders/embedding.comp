#version 450
// out[i, :] = table[ids[i], :]. An id past the table gives a zero row, and the first
// invocation of that row counts it, so the host can tell the person which input was wrong
// (torch would throw; a shader cannot).

layout(local_size_x = 256) in;

layout(set = 0, binding = 0) readonly buffer Ids { uint ids[]; };
layout(set = 0, binding = 1) readonly buffer Table { float table[]; };
layout(set = 0, binding = 2) writeonly buffer Out { float o[]; };
// Bound to `ids` (and never touched) when the caller wants no count.
layout(set = 0, binding = 3) buffer Bad { uint badCount; };

layout(push_constant) uniform Push {
    uint total;  // count * dim, < 2^30
    uint dim;
    uint vocab;
    uint countBad;
} pc;

void main()
{
    const uint group = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    const uint i = group * 256u + gl_LocalInvocationID.x;
    if (i >= pc.total) return;
    const uint row = i / pc.dim;
    const uint col = i - row * pc.dim;
    const uint id = ids[row];
    if (id >= pc.vocab) {
        o[i] = 0.0;
        if (col == 0u && pc.countBad != 0u) atomicAdd(badCount, 1u);
        return;
    }
    o[i] = table[id * pc.dim + col];
}
