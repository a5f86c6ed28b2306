"""Python torch reference for bench/gpu.ts (scripts/gpu-check.sh): img/s of SimCLR pretraining steps on pre-made
views with the model, NT-Xent and LARS of bench/torch_pretrain.py (simclr's own, ported), at the settings simclr
ran with: cudnn.benchmark as given, channels-last inputs, bf16 autocast or fp32, the same warm-up and timed steps,
torch.cuda.synchronize() around the timed steps and no host read-back inside them.
Usage: torch_gpu.py '<json spec>' (spec: device, cases [{name, arch, width, size, batch, precision}], warmup, steps,
seed, deadline (epoch ms), cudnnBenchmark); prints the JSON object so far after each case (the last line is final). Needs only torch (no numpy, no torchvision)."""
import json, os, sys, time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_pretrain import LARS, SimCLRModel, lars_groups, nt_xent  # noqa: E402


def log(msg):
    print(f"[torch_gpu.py {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_case(spec, case, device):
    torch.manual_seed(spec["seed"])
    depth = {"resnet18": 18, "resnet50": 50}[case["arch"]]
    model = SimCLRModel(case["width"], 3, case["size"] <= 32, depth=depth).to(device).train()
    bs = case["batch"]
    opt = LARS(lars_groups(model, 1e-6), lr=0.3 * bs / 256)
    # Pre-made views (two per image), channels-last as simclr's loop feeds its model.
    x = torch.rand(2 * bs, 3, case["size"], case["size"], device=device).contiguous(memory_format=torch.channels_last)
    bf16 = case["precision"] == "bf16"

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            z = model(x)
        z1, z2 = z.float().chunk(2)
        loss, _ = nt_xent(z1, z2, 0.5)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for _ in range(spec["warmup"]):
        step()
    sync(device)
    start = time.perf_counter()
    for _ in range(spec["steps"]):
        step()
    sync(device)
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    result = dict(name=case["name"], arch=case["arch"], width=case["width"], size=case["size"], batch=bs,
                  precision=case["precision"], steps=spec["steps"], warmup=spec["warmup"],
                  stepMs=1000 * seconds / spec["steps"], imgPerSec=spec["steps"] * 2 * bs / seconds, peakMemoryBytes=peak)
    del model, opt, x
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result


def main():
    spec = json.loads(sys.argv[1])
    device = torch.device(spec["device"])
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = bool(spec["cudnnBenchmark"])
    else:
        torch.set_num_threads(max(1, os.cpu_count() or 1))
    out = dict(torch=torch.__version__, cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(),
               device=str(device), channelsLast=True, switches=dict(
                   cudnnBenchmark=torch.backends.cudnn.benchmark, cudnnAllowTF32=torch.backends.cudnn.allow_tf32,
                   matmulAllowTF32=torch.backends.cuda.matmul.allow_tf32), cases=[])
    if device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        out["gpu"] = dict(name=p.name, totalMemory=p.total_memory, major=p.major, minor=p.minor,
                          multiProcessorCount=p.multi_processor_count)
    for case in spec["cases"]:
        if time.time() * 1000 > spec["deadline"]:
            out["cases"].append(dict(name=case["name"], skipped="time guard: too close to the time limit"))
            log(f"{case['name']}: skipped (time guard)")
        else:
            log(f"{case['name']}: {case['arch']} x{case['width']} {case['size']} px batch {case['batch']} {case['precision']} on {device}")
            try:
                r = bench_case(spec, case, device)
                log(f"{case['name']}: {r['stepMs']:.1f} ms/step, {r['imgPerSec']:.0f} img/s")
                out["cases"].append(r)
            except Exception as e:  # recorded; the remaining cases still run
                log(f"{case['name']}: FAILED {type(e).__name__}: {e}")
                out["cases"].append(dict(name=case["name"], error=f"{type(e).__name__}: {e}"))
                if device.type == "cuda":
                    torch.cuda.empty_cache()
        # One line per case: a run cut short by the time limit still leaves what it measured.
        print(json.dumps(out), flush=True)
    if not spec["cases"]:
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
