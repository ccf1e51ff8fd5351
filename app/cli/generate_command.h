#pragma once

// kiln-cli generate --model PATH --prompt TEXT --out DIR ... : txt2img into PNGs with A1111's `parameters`
// text; returns the exit code (0, 1 on an error, 2 on a usage error, 130 when stopped with Ctrl-C).
int runGenerateCommand(int argc, char** argv);
