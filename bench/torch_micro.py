"""Python torch reference for bench/micro.ts: same ops, shapes, threads and iteration counts.
Prints one JSON object {case: seconds_per_iteration}."""
import json, sys, time
import torch
import torch.nn.functional as F

threads, iters = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(threads)
torch.manual_seed(0)

def timeit(fn):
    for _ in range(3):
        fn()
    t0 = time.perf_counter()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - t0) / iters

x = torch.randn(32, 64, 32, 32)
w = torch.randn(64, 64, 3, 3, requires_grad=True)
def conv():
    y = F.conv2d(x, w, padding=1)
    y.sum().backward()
    w.grad = None

w1 = torch.randn(64, 64, 3, 3, requires_grad=True)
w2 = torch.randn(64, 64, 3, 3, requires_grad=True)
g1 = torch.ones(64, requires_grad=True); b1 = torch.zeros(64, requires_grad=True)
g2 = torch.ones(64, requires_grad=True); b2 = torch.zeros(64, requires_grad=True)
rm1, rv1, rm2, rv2 = torch.zeros(64), torch.ones(64), torch.zeros(64), torch.ones(64)
def block():
    out = F.conv2d(x, w1, padding=1)
    out = F.relu(F.batch_norm(out, rm1, rv1, g1, b1, True, 0.1, 1e-5))
    out = F.conv2d(out, w2, padding=1)
    out = F.batch_norm(out, rm2, rv2, g2, b2, True, 0.1, 1e-5)
    out = F.relu(out + x)
    out.sum().backward()
    for p in (w1, w2, g1, b1, g2, b2):
        p.grad = None

print(json.dumps({"conv2d": timeit(conv), "basic_block": timeit(block)}))
