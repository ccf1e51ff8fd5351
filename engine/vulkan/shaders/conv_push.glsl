// The push constants of the convolution shaders, laid out as ConvPush in ops/conv2d_vulkan.cpp.
// groups divides inC and outC; icg and ocg are the channels per group.
layout(push_constant) uniform Push {
    uint batch, inC, inH, inW;
    uint outC, outH, outW, groups;
    uint kH, kW, strideH, strideW;
    uint padH, padW, dilH, dilW;
    uint icg, ocg, K, N;  // the implicit GEMM's k (icg * kH * kW) and n (batch * outH * outW)
    uint tilesN, tiles;   // its tiles along n and per group
    uint total;           // outputs, for the one-output-per-invocation shaders
    uint hasBias, act;
    float actParam;
} pc;
