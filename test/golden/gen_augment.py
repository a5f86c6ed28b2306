#!/usr/bin/python3
"""Reference outputs for src/augment/apply.ts from torchvision's functional ops, applied one at a time.

Each case fixes one view's parameters (crop box, flip, jitter factors and order, grayscale, blur sigma, solarize)
and runs torchvision on the float image (uint8 / 255) in the SimCLR order. Resizing is torchvision's tensor resize
with antialias=False (bilinear, align_corners=False). Writes test/golden/augment.json.

Run with Debian's torch: /usr/bin/python3 test/golden/gen_augment.py
"""
import math

from golden_io import write_augment_golden

import torch
import torchvision.transforms.functional as TF

JITTER = ["brightness", "contrast", "saturation", "hue"]


def blur_kernel_size(size):
    # Odd size closest to 10% of the side (ties up), at least 3; the rule of src/augment/params.ts.
    return max(3, 2 * math.floor((size / 10 - 1) / 2 + 0.5) + 1)


def view(img, size, crop=None, flip=False, order=None, factors=None, grayscale=False, sigma=0.0, solarize=False):
    """img: float [C,H,W] in [0,1]. crop: [x0, y0, w, h]. factors: brightness, contrast, saturation, hue."""
    c, h, w = img.shape
    x0, y0, cw, ch = crop if crop is not None else [0, 0, w, h]
    out = TF.resized_crop(img, y0, x0, ch, cw, [size, size], TF.InterpolationMode.BILINEAR, antialias=False)
    if flip:
        out = TF.hflip(out)
    if order is not None:
        for op in order:
            f = factors[op]
            if op == 0:
                out = TF.adjust_brightness(out, f)
            elif op == 1:
                out = TF.adjust_contrast(out, f)
            elif op == 2:
                out = TF.adjust_saturation(out, f)
            else:
                out = TF.adjust_hue(out, f)
    if grayscale:
        out = TF.rgb_to_grayscale(out, num_output_channels=3)
    kernel = blur_kernel_size(size)
    if sigma > 0:
        out = TF.gaussian_blur(out, [kernel, kernel], [sigma, sigma])
    if solarize:
        out = TF.solarize(out, 0.5)
    params = {
        "crop": [x0, y0, cw, ch],
        "flip": int(flip),
        "jitter": int(order is not None),
        "order": list(order) if order is not None else [0, 1, 2, 3],
        "factors": list(factors) if factors is not None else [1, 1, 1, 0],
        "grayscale": int(grayscale),
        "sigma": sigma,
        "solarize": int(solarize),
    }
    return params, kernel, out


def main():
    g = torch.Generator().manual_seed(20240607)
    images = {
        "rgb": torch.randint(0, 256, (2, 3, 16, 16), generator=g, dtype=torch.uint8),
        "rect": torch.randint(0, 256, (1, 3, 12, 20), generator=g, dtype=torch.uint8),
        "gray": torch.randint(0, 256, (2, 1, 16, 16), generator=g, dtype=torch.uint8),
    }
    # Saturated, dark and grey pixels exercise the HSV edge cases (max == min, max == 0, ties between channels).
    images["rgb"][1, :, 0, :] = torch.tensor([255, 0, 0], dtype=torch.uint8)[:, None]
    images["rgb"][1, :, 1, :] = 128
    images["rgb"][1, :, 2, :] = 0
    images["rgb"][1, :, 3, :8] = torch.tensor([200, 200, 10], dtype=torch.uint8)[:, None]

    jit = [1.2, 0.7, 1.5, 0.1]
    specs = [
        # name, image, sample, size, view kwargs
        ("identity", "rgb", 0, 16, {}),
        ("identity-flip", "rgb", 1, 16, {"flip": True}),
        ("crop-down", "rgb", 0, 8, {"crop": [2, 1, 12, 14]}),
        ("crop-up-flip", "rgb", 1, 16, {"crop": [4, 3, 7, 6], "flip": True}),
        ("crop-corner", "rgb", 0, 12, {"crop": [9, 10, 7, 6]}),
        ("crop-rect", "rect", 0, 10, {"crop": [3, 2, 15, 9], "flip": True}),
        ("whole-rect", "rect", 0, 8, {}),
        ("brightness", "rgb", 0, 16, {"order": [0, 1, 2, 3], "factors": [1.35, 1, 1, 0]}),
        ("contrast-low", "rgb", 1, 16, {"order": [1, 0, 2, 3], "factors": [1, 0.55, 1, 0]}),
        ("contrast-high", "rgb", 0, 16, {"order": [1, 0, 2, 3], "factors": [1, 1.7, 1, 0]}),
        ("saturation-high", "rgb", 1, 16, {"order": [2, 0, 1, 3], "factors": [1, 1, 1.8, 0]}),
        ("saturation-low", "rgb", 0, 16, {"order": [2, 0, 1, 3], "factors": [1, 1, 0.3, 0]}),
        ("hue-pos", "rgb", 1, 16, {"order": [3, 0, 1, 2], "factors": [1, 1, 1, 0.23]}),
        ("hue-neg", "rgb", 0, 16, {"order": [3, 0, 1, 2], "factors": [1, 1, 1, -0.41]}),
        ("grayscale", "rgb", 1, 16, {"grayscale": True}),
        ("blur", "rgb", 0, 16, {"sigma": 0.8}),
        ("blur-k5", "rgb", 1, 40, {"crop": [1, 2, 14, 13], "sigma": 1.7}),
        ("solarize", "rgb", 0, 16, {"solarize": True}),
        ("order-a", "rgb", 1, 16, {"order": [3, 1, 0, 2], "factors": jit}),
        ("order-b", "rgb", 1, 16, {"order": [2, 0, 3, 1], "factors": jit}),
        ("order-c", "rgb", 0, 16, {"order": [0, 2, 1, 3], "factors": jit}),
        ("all", "rgb", 0, 12, {"crop": [3, 2, 11, 13], "flip": True, "order": [1, 3, 2, 0], "factors": [0.8, 1.3, 0.6, -0.2],
                               "grayscale": True, "sigma": 1.1, "solarize": True}),
        ("all-colour", "rgb", 1, 12, {"crop": [0, 4, 16, 12], "order": [2, 1, 3, 0], "factors": [1.1, 0.9, 1.4, 0.35],
                                      "sigma": 0.5, "solarize": True}),
        ("gray-identity", "gray", 0, 16, {}),
        ("gray-bc", "gray", 0, 16, {"order": [1, 0, 2, 3], "factors": [1.4, 0.6, 1, 0]}),
        ("gray-cb", "gray", 1, 16, {"order": [0, 1, 2, 3], "factors": [1.4, 0.6, 1, 0]}),
        ("gray-all", "gray", 1, 40, {"crop": [2, 3, 12, 10], "flip": True, "order": [0, 1, 2, 3], "factors": [0.7, 1.5, 1, 0],
                                     "sigma": 1.3, "solarize": True}),
    ]
    cases = []
    for name, key, sample, size, kw in specs:
        img = images[key][sample].float() / 255
        params, kernel, out = view(img, size, **kw)
        cases.append({
            "name": name, "image": key, "sample": sample, "size": size, "kernel": kernel, "params": params,
            "expected": [round(v, 7) for v in out.flatten().tolist()],
        })
    write_augment_golden("test/golden/gen_augment.py", "augment.json", images, cases)


if __name__ == "__main__":
    main()
