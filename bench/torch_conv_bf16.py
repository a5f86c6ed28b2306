"""Per-convolution fp32 vs bf16 timings (channels-last, forward and backward) for the ResNet-18 layer shapes of the
bench cases, on this machine's libtorch and oneDNN: the evidence behind bench/PERFORMANCE.md's bf16 section.
Usage: /usr/bin/python3 bench/torch_conv_bf16.py [threads]   (prints best-of-4 ms per layer)"""
import sys, time

import torch

# (batch of views, in channels, input side, out channels, kernel, stride)
LAYERS = {
    "colour96 (x0.25, 96 px)": [(512, 3, 96, 16, 7, 2), (512, 16, 24, 16, 3, 1), (512, 16, 24, 32, 3, 2), (512, 32, 12, 32, 3, 1),
                                (512, 32, 12, 64, 3, 2), (512, 64, 6, 64, 3, 1), (512, 64, 6, 128, 3, 2), (512, 128, 3, 128, 3, 1)],
    "cifar32 (x1, 32 px)": [(64, 3, 32, 64, 3, 1), (64, 64, 32, 64, 3, 1), (64, 64, 32, 128, 3, 2), (64, 128, 16, 128, 3, 1),
                            (64, 128, 16, 256, 3, 2), (64, 256, 8, 256, 3, 1), (64, 256, 8, 512, 3, 2), (64, 512, 4, 512, 3, 1)],
}


def best_ms(conv, x, repeats=4):
    fwd = bwd = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        y = conv(x)
        t1 = time.perf_counter()
        y.backward(torch.ones_like(y))
        t2 = time.perf_counter()
        fwd, bwd = min(fwd, t1 - t0), min(bwd, t2 - t1)
    return fwd * 1e3, bwd * 1e3


def main():
    torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else torch.get_num_threads())
    print(f"threads {torch.get_num_threads()}; ms, best of 4")
    for name, layers in LAYERS.items():
        print(name)
        for n, cin, side, cout, k, s in layers:
            res = {}
            for dtype in (torch.float32, torch.bfloat16):
                conv = torch.nn.Conv2d(cin, cout, k, s, k // 2, bias=False).to(dtype).to(memory_format=torch.channels_last)
                x = torch.randn(n, cin, side, side).to(dtype).contiguous(memory_format=torch.channels_last).requires_grad_(cin > 3)
                res[dtype] = best_ms(conv, x)
            (f_fwd, f_bwd), (b_fwd, b_bwd) = res[torch.float32], res[torch.bfloat16]
            print(f"  {n}x{cin}x{side}x{side} -> {cout} k{k} s{s}: forward fp32 {f_fwd:7.1f} bf16 {b_fwd:7.1f} | "
                  f"backward fp32 {f_bwd:7.1f} bf16 {b_bwd:7.1f}")


if __name__ == "__main__":
    main()
