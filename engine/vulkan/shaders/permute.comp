#version 450
// out = x.permute(dims).contiguous(): one invocation per output element, which finds its
// source by walking the output index from the last dimension with the input's strides.

layout(local_size_x = 256) in;

layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Push {
    uint total;  // elements, < 2^30 (they fit one storage buffer)
    uint rank;   // 1..8
    uint outSizes[8];
    uint inStrides[8];  // the input stride of each output dimension
} pc;

void main()
{
    const uint group = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    const uint i = group * 256u + gl_LocalInvocationID.x;
    if (i >= pc.total) return;
    uint rest = i;
    uint src = 0u;
    for (int d = int(pc.rank) - 1; d >= 0; --d) {
        const uint size = pc.outSizes[d];
        src += (rest % size) * pc.inStrides[d];
        rest /= size;
    }
    o[i] = x[src];
}
