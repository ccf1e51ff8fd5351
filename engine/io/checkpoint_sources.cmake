# The PyTorch checkpoint reader. Paths are relative to engine/.
# Standard library + zlib only: linked into kiln_engine_base and built by the fuzzers.
set(KILN_CHECKPOINT_SOURCES
  io/zip_archive.cpp
  io/pickle_value.cpp
  io/pickle_machine.cpp
  io/pickle_calls.cpp
  io/checkpoint_walk.cpp
  io/torch_checkpoint.cpp
)
# The bridge to LibTorch, linked into kiln_engine.
set(KILN_CHECKPOINT_TORCH_SOURCES
  io/checkpoint_torch.cpp
)
