"""Writes an augmentation golden file: the generator, the torch/torchvision versions, the input images and cases."""
import json
import os

import torch
import torchvision


def write_augment_golden(generator, filename, images, cases):
    """Writes test/golden/<filename> as compact JSON; images maps a name to a tensor (stored as shape + flat data)."""
    doc = {
        "generator": generator,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "images": {k: {"shape": list(v.shape), "data": v.flatten().tolist()} for k, v in images.items()},
        "cases": cases,
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), filename)
    with open(path, "w") as fh:
        json.dump(doc, fh, separators=(",", ":"))
        fh.write("\n")
    print(f"wrote {len(cases)} cases to {path}")
