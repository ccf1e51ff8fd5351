// The element type of an op's weight buffer. Built a second time with KILN_WEIGHTS_F16 (the
// *_f16w SPIR-V): the weights are then IEEE half, read through 16-bit storage and widened on
// load, so only their memory halves; all arithmetic stays fp32. Include before any declaration:
// it may enable an extension.
#ifdef KILN_WEIGHTS_F16
#extension GL_EXT_shader_16bit_storage : require
#define KILN_WEIGHT float16_t
#else
#define KILN_WEIGHT float
#endif
