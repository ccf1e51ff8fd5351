# The trainer (engine/train). Paths are relative to engine/.
# Standard library + zlib + nlohmann-json only: linked into kiln_engine_base.
set(KILN_TRAIN_SOURCES
  train/config_ids.cpp
  train/lr_schedule.cpp
  train/idx.cpp
  train/char_vocab.cpp
  train/checkpoint_manifest.cpp
  train/pause_control.cpp
)
# LibTorch (and OpenCV for the image folder): linked into kiln_engine.
set(KILN_TRAIN_TORCH_SOURCES
  train/dataset.cpp
  train/image_folder.cpp
  train/batches.cpp
  train/loss.cpp
  train/optim.cpp
  train/fused_adamw.cpp
  train/memory_format.cpp
  train/checkpoint.cpp
  train/evaluate.cpp
  train/prediction_grid.cpp
  train/trainer.cpp
  train/graph_inference.cpp
)
