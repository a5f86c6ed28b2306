#!/usr/bin/python3
"""Reference outputs for the paper's extra augmentations (src/augment/ops/{cutout,sobel,gaussian-noise,rotation}.ts).

Each case fixes one view's parameters and computes the op with PyTorch/torchvision on a float image (uint8 / 255):
cutout with torchvision's TF.erase (value 0), Sobel as F.conv2d of the luma with the 3x3 Sobel kernels on
replicate-padded planes, magnitude / (4 sqrt 2), Gaussian noise as x + sigma * randn from torch.Generator seeded
with the view's seed, clamped, and rotation with torch.rot90 over (H, W). Writes test/golden/augment_extra.json.

Run with Debian's torch: /usr/bin/python3 test/golden/gen_augment_extra.py
"""
import math

from golden_io import write_augment_golden

import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF

LUMA = (0.299, 0.587, 0.114)  # src/data/colour.ts


def cutout(img, box):
    x0, y0, x1, y1 = box
    return TF.erase(img, y0, x0, y1 - y0, x1 - x0, torch.tensor(0.0))


def sobel(img):
    gray = img if img.shape[0] == 1 else sum(w * img[i:i + 1] for i, w in enumerate(LUMA))
    kx = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    k = torch.stack([kx, kx.t()]).unsqueeze(1)
    g = F.conv2d(F.pad(gray.unsqueeze(0), [1, 1, 1, 1], mode="replicate"), k)[0]
    mag = (g ** 2).sum(0, keepdim=True).sqrt() / (4 * math.sqrt(2))
    return mag.clamp(0, 1).expand_as(img)


def noise(img, sigma, seed):
    gen = torch.Generator().manual_seed(seed)
    n = torch.randn(img.shape, generator=gen)
    return (img + torch.tensor(sigma, dtype=torch.float32) * n).clamp(0, 1)


def main():
    g = torch.Generator().manual_seed(20240612)
    images = {
        "rgb": torch.randint(0, 256, (2, 3, 12, 12), generator=g, dtype=torch.uint8),
        "gray": torch.randint(0, 256, (1, 1, 12, 12), generator=g, dtype=torch.uint8),
    }
    # A hard edge and a flat patch, so the Sobel output has both large and zero gradients.
    images["rgb"][1, :, :, :6] = 230
    images["rgb"][1, :, 8:, :] = 10
    specs = [
        # name, op, image, sample, params (the op's columns)
        ("cutout-inside", "cutout", "rgb", 0, [3, 2, 9, 8]),
        ("cutout-corner", "cutout", "rgb", 1, [0, 9, 4, 12]),
        ("cutout-gray", "cutout", "gray", 0, [5, 0, 12, 6]),
        ("sobel-rgb", "sobel", "rgb", 0, [1]),
        ("sobel-edges", "sobel", "rgb", 1, [1]),
        ("sobel-gray", "sobel", "gray", 0, [1]),
        ("noise-small", "gaussianNoise", "rgb", 0, [0.05, 12345]),
        ("noise-large", "gaussianNoise", "gray", 0, [0.4, 16777215]),
        ("rot-1", "rotation", "rgb", 0, [1]),
        ("rot-2", "rotation", "rgb", 1, [2]),
        ("rot-3", "rotation", "gray", 0, [3]),
    ]
    cases = []
    for name, op, key, sample, params in specs:
        img = images[key][sample].float() / 255
        if op == "cutout":
            out = cutout(img, params)
        elif op == "sobel":
            out = sobel(img)
        elif op == "gaussianNoise":
            out = noise(img, params[0], params[1])
        else:
            out = torch.rot90(img, params[0], [1, 2])
        cases.append({"name": name, "op": op, "image": key, "sample": sample, "params": params,
                      "expected": [round(v, 7) for v in out.flatten().tolist()]})
    write_augment_golden("test/golden/gen_augment_extra.py", "augment_extra.json", images, cases)


if __name__ == "__main__":
    main()
