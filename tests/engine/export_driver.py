"""Runs Kiln's exported PyTorch code for test_export: python3 export_driver.py CASE_DIR...

Each CASE_DIR holds model.py and weights.safetensors (as Kiln exported them), inputs.safetensors
and case.json ({"inputs": [names in forward() order], "train": bool}). The model loads the
weights strictly through the file's own load_safetensors, runs once, and output.safetensors gets
its output, the loss when inputs hold a "target", and in train mode the state after the step.
"""
import importlib.util
import json
import os
import sys

import torch


def run(folder):
    spec = importlib.util.spec_from_file_location("kiln_export_" + os.path.basename(folder),
                                                  os.path.join(folder, "model.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with open(os.path.join(folder, "case.json")) as f:
        case = json.load(f)
    model = module.KilnModel()
    model.load_state_dict(module.load_safetensors(os.path.join(folder, "weights.safetensors")), strict=True)
    model.train(case["train"])
    inputs = module.load_safetensors(os.path.join(folder, "inputs.safetensors"))
    with torch.no_grad():
        output = model(*[inputs[name] for name in case["inputs"]])
        results = {"output": output}
        if "target" in inputs:
            results["loss"] = model.compute_loss(output, inputs["target"])
    if case["train"]:
        for name, value in model.state_dict().items():
            results["state." + name] = value
    module.save_safetensors(results, os.path.join(folder, "output.safetensors"))


if __name__ == "__main__":
    torch.manual_seed(0)
    for case_dir in sys.argv[1:]:
        try:
            run(case_dir)
        except Exception as error:  # one line per failing case; the test names it
            print("%s: %s: %s" % (os.path.basename(case_dir), type(error).__name__, error), file=sys.stderr)
            sys.exit(1)
