# The CLIP tokenizer and A1111 prompt parsing (engine/diffusion): std-only, seconds. The real-vocab
# cases read ../shared/data/clip-tokenizer and skip where it is absent.
kiln_add_qt_test(test_clip_tokenizer SOURCES test_clip_tokenizer.cpp LIBS kiln::engine_base LABELS unit diffusion)
kiln_add_qt_test(test_prompt_parser SOURCES test_prompt_parser.cpp LIBS kiln::engine_base LABELS unit diffusion)
