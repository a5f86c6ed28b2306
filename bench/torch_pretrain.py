"""Python torch reference for bench/run.ts: SimCLR pretraining steps with the same model, batch, threads, loss and
optimiser as simclr, written the way a PyTorch user would (NCHW, fp32 unless asked). Input pipelines:
  batched  the same batched tensor augmentations as src/augment/apply.ts, ported op for op, run in the main process
  pil      torchvision's PIL transforms in a DataLoader with worker processes (the usual SimCLR code)
  compute  fixed pre-made views: forward, loss, backward and optimiser only
Usage: torch_pretrain.py '<json spec>'; prints one JSON object with per-step phase times in seconds."""
import json, math, os, random, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F

LUMA = (0.299, 0.587, 0.114)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------------- data
def load_images(data):
    """uint8 [N, C, H, W] from the dataset files simclr reads too (bench/datasets.ts)."""
    import numpy as np  # here, so that bench/torch_gpu.py can import this module where numpy is missing
    kind, paths = data["kind"], data["paths"]
    if kind == "cifar10":
        raw = np.concatenate([np.fromfile(p, dtype=np.uint8) for p in paths]).reshape(-1, 1 + 3 * 32 * 32)
        return torch.from_numpy(raw[:, 1:].reshape(-1, 3, 32, 32).copy())
    if kind == "idx":
        import gzip
        with gzip.open(paths[0]) as f:
            raw = np.frombuffer(f.read(), dtype=np.uint8, offset=16)
        return torch.from_numpy(raw.reshape(-1, 1, 28, 28).copy())
    if kind == "stl10":
        raw = np.fromfile(paths[0], dtype=np.uint8).reshape(-1, 3, 96, 96)
        return torch.from_numpy(raw.transpose(0, 1, 3, 2).copy())  # STL-10 stores columns first
    raise ValueError(kind)


# ---------------------------------------------------------------------------------------------------- model
class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.bn2(self.conv2(out))
        out += x if self.downsample is None else self.downsample(x)
        return F.relu(out, inplace=True)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 with the stride (torchvision's v1.5), 1x1 expand by 4, as src/models/resnet.ts."""

    def __init__(self, cin, planes, stride):
        super().__init__()
        cout = planes * 4
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = F.relu(self.bn2(self.conv2(out)), inplace=True)
        out = self.bn3(self.conv3(out))
        out += x if self.downsample is None else self.downsample(x)
        return F.relu(out, inplace=True)


class ResNet18(nn.Module):
    """torchvision's ResNet-18 (or, with depth=50, ResNet-50) with a width multiplier, a CIFAR stem option and any
    input channel count."""

    def __init__(self, width, in_channels, cifar_stem, depth=18):
        super().__init__()
        ch = [max(1, round(c * width)) for c in (64, 128, 256, 512)]
        if cifar_stem:
            self.conv1 = nn.Conv2d(in_channels, ch[0], 3, 1, 1, bias=False)
            self.maxpool = nn.Identity()
        else:
            self.conv1 = nn.Conv2d(in_channels, ch[0], 7, 2, 3, bias=False)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.bn1 = nn.BatchNorm2d(ch[0])
        block, counts, expansion = {18: (BasicBlock, (2, 2, 2, 2), 1), 50: (Bottleneck, (3, 4, 6, 3), 4)}[depth]
        blocks, cin = [], ch[0]
        for s, c in enumerate(ch):
            for i in range(counts[s]):
                blocks.append(block(cin, c, 2 if i == 0 and s > 0 else 1))
                cin = c * expansion
        self.layers = nn.Sequential(*blocks)
        self.feature_dim = cin
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x)), inplace=True))
        return torch.flatten(F.adaptive_avg_pool2d(self.layers(x), 1), 1)


class SimCLRModel(nn.Module):
    def __init__(self, width, in_channels, cifar_stem, proj_dim=128, depth=18):
        super().__init__()
        self.encoder = ResNet18(width, in_channels, cifar_stem, depth)
        d = self.encoder.feature_dim
        self.head = nn.Sequential(nn.Linear(d, d), nn.ReLU(inplace=True), nn.Linear(d, proj_dim))

    def forward(self, x):
        return self.head(self.encoder(x))


def nt_xent(z1, z2, temperature):
    n = z1.shape[0]
    z = torch.cat([F.normalize(z1, dim=1), F.normalize(z2, dim=1)])
    sim = z @ z.t() / temperature
    idx = torch.arange(n, device=z.device)
    self_cols = torch.cat([idx, idx + n])
    targets = torch.cat([idx + n, idx])
    logits = sim.scatter(1, self_cols.unsqueeze(1), float("-inf"))
    loss = F.cross_entropy(logits, targets)
    with torch.no_grad():
        acc = (logits.argmax(1) == targets).float().mean()
    return loss, acc


class LARS(torch.optim.Optimizer):
    """google-research/simclr's LARS as simclr's src/optim/lars.ts, with the multi-tensor (foreach) kernels."""

    def __init__(self, params, lr, momentum=0.9, eta=0.001, weight_decay=1e-6, exclude_from_adaptation=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, eta=eta, weight_decay=weight_decay,
                                      exclude_from_adaptation=exclude_from_adaptation))

    @torch.no_grad()
    def step(self):
        for g in self.param_groups:
            params = [p for p in g["params"] if p.grad is not None]
            grads = [p.grad for p in params]
            for p in params:
                if "momentum" not in self.state[p]:
                    self.state[p]["momentum"] = torch.zeros_like(p)
            velocity = [self.state[p]["momentum"] for p in params]
            if g["weight_decay"] != 0:
                torch._foreach_add_(grads, params, alpha=g["weight_decay"])
            torch._foreach_mul_(velocity, g["momentum"])
            if g["exclude_from_adaptation"]:
                torch._foreach_add_(velocity, grads, alpha=g["lr"])
            else:
                w_norm = torch.stack(torch._foreach_norm(params))
                g_norm = torch.stack(torch._foreach_norm(grads))
                trust = torch.where((w_norm > 0) & (g_norm > 0), g["eta"] * w_norm / g_norm, torch.ones_like(w_norm))
                torch._foreach_addcmul_(velocity, grads, list((trust * g["lr"]).unbind(0)))
            torch._foreach_sub_(params, velocity)


def lars_groups(model, weight_decay):
    adapted, excluded = [], []
    for name, p in model.named_parameters():
        (excluded if p.ndim <= 1 or "bias" in name else adapted).append(p)
    return [dict(params=adapted, weight_decay=weight_decay), dict(params=excluded, weight_decay=0.0, exclude_from_adaptation=True)]


# ---------------------------------------------------------------------------------------------------- augmentation
def blur_kernel_size(size):
    return max(3, 2 * round((size / 10 - 1) / 2) + 1)


def sample_view_params(cfg, h, w, seed, epoch, indices, view):
    """The distributions of src/augment/params.ts (torchvision's RandomResizedCrop, jitter order, ...), one Python
    RNG per sample; not bit-identical to simclr's counter RNG, which the speed comparison does not need."""
    n, s = len(indices), cfg["color_strength"]
    gray_in = cfg["grayscale_input"]
    crop, flip, jitter, order, factors, gray, sigma = [], [], [], [], [], [], []
    for idx in indices:
        rng = random.Random((seed * 1_000_003 + epoch) * 1_000_003 + int(idx) * 2 + view)
        area, box = h * w, None
        for _ in range(10):
            target = area * rng.uniform(0.08, 1.0)
            aspect = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
            cw, ch = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
            if 0 < cw <= w and 0 < ch <= h:
                box = (rng.randint(0, w - cw), rng.randint(0, h - ch), cw, ch)
                break
        crop.append(box or (0, 0, w, h))
        flip.append(rng.random() < 0.5)
        on = rng.random() < 0.8
        perm = [0, 1, 2, 3]
        rng.shuffle(perm)
        lo, hi = max(0.0, 1 - 0.8 * s), 1 + 0.8 * s
        f = [rng.uniform(lo, hi), rng.uniform(lo, hi), 1.0 if gray_in else rng.uniform(lo, hi),
             0.0 if gray_in else rng.uniform(-0.2 * s, 0.2 * s)]
        jitter.append(on)
        order.append(perm)
        factors.append(f if on else [1.0, 1.0, 1.0, 0.0])
        gray.append(not gray_in and rng.random() < 0.2)
        b = rng.random() < cfg["blur_p"]
        sg = rng.uniform(0.1, 2.0)
        sigma.append(sg if b else 0.0)
    return dict(n=n, crop=torch.tensor(crop, dtype=torch.float32), flip=flip, jitter=jitter, order=order,
                factors=torch.tensor(factors, dtype=torch.float32), gray=gray, sigma=torch.tensor(sigma))


def resized_crop_flip(x, p, size):
    n, _, h, w = x.shape
    x0, y0, cw, ch = p["crop"].unbind(1)
    flip = torch.tensor(p["flip"])

    def axis(length, origin, span, flipped):
        scale = torch.where(flipped, -span / length, span / length)
        return scale, (2 * origin + span) / length - 1, (2 * origin + 1) / length - 1, (2 * (origin + span) - 1) / length - 1

    base = torch.linspace(1 / size - 1, 1 - 1 / size, size).reshape(1, size)

    def coords(a):
        scale, offset, lo, hi = (t.unsqueeze(1) for t in a)
        return (base * scale + offset).clamp(lo, hi)

    gx = coords(axis(w, x0, cw, flip)).unsqueeze(1).expand(n, size, size)
    gy = coords(axis(h, y0, ch, torch.zeros(n, dtype=torch.bool))).unsqueeze(2).expand(n, size, size)
    return F.grid_sample(x, torch.stack([gx, gy], 3), mode="bilinear", padding_mode="border", align_corners=False)


def luma(x):
    return (x * torch.tensor(LUMA).view(1, 3, 1, 1)).sum(1, keepdim=True)


def brightness(x, f):
    return (x * f).clamp_(0, 1)


def contrast(x, f):
    means = x.mean((2, 3), keepdim=True)
    return torch.lerp(luma(means) if x.shape[1] == 3 else means, x, f).clamp_(0, 1)


def saturation(x, f):
    return torch.lerp(luma(x), x, f).clamp_(0, 1)


def hue(x, f):
    r, g, b = x.unbind(1)
    maxc = x.amax(1)
    chroma = maxc - x.amin(1)
    scaled = torch.where(r == maxc, g - b, torch.where(g == maxc, b - r + 2 * chroma, r - g + 4 * chroma))
    sixths = (scaled / torch.where(chroma > 0, chroma, torch.ones_like(chroma))).unsqueeze(1) + f * 6
    k = (sixths + torch.tensor([5.0, 3.0, 1.0]).view(1, 3, 1, 1)).remainder(6)
    ramp = torch.minimum(k, 4 - k).clamp_(0, 1)
    return maxc.unsqueeze(1) - ramp.mul_(chroma.unsqueeze(1))


JITTER = [brightness, contrast, saturation, hue]


def gaussian_blur(x, sigma, k):
    n, c, h, w = x.shape
    half = (k - 1) // 2
    taps = torch.linspace(-half, half, k).reshape(1, k)
    pdf = (taps / sigma).square().mul(-0.5).exp()
    kernel = (pdf / pdf.sum(1, keepdim=True)).repeat_interleave(c, 0)
    planes = F.pad(x.reshape(1, n * c, h, w), [half] * 4, mode="reflect")
    v = F.conv2d(planes, kernel.reshape(n * c, 1, k, 1), groups=n * c)
    return F.conv2d(v, kernel.reshape(n * c, 1, 1, k), groups=n * c).reshape(n, c, h, w).clamp_(0, 1)


def update_rows(x, rows, fn):
    if not rows:
        return
    if len(rows) == x.shape[0]:
        x.copy_(fn(x))
        return
    index = torch.tensor(rows)
    x.index_copy_(0, index, fn(x.index_select(0, index)))


def apply_views(images, p, cfg):
    n, c = images.shape[:2]
    size = cfg["size"]
    x = resized_crop_flip(images.float().div(255), p, size)
    for pos in range(4):
        for op in range(4 if c == 3 else 2):
            rows = [b for b in range(n) if p["jitter"][b] and p["order"][b][pos] == op]
            f = p["factors"][rows, op].view(-1, 1, 1, 1) if rows else None
            update_rows(x, rows, lambda sub: JITTER[op](sub, f))
    if c == 3:
        update_rows(x, [b for b in range(n) if p["gray"][b]], lambda sub: luma(sub).expand(sub.shape))
    rows = [b for b in range(n) if p["sigma"][b] > 0]
    if rows:
        update_rows(x, rows, lambda sub: gaussian_blur(sub, p["sigma"][rows].view(-1, 1), blur_kernel_size(size)))
    return x


# ---------------------------------------------------------------------------------------------------- PIL pipeline
class PilTwoViews(torch.utils.data.Dataset):
    def __init__(self, images, cfg):
        import torchvision.transforms as T
        self.images = images.numpy()
        s, size = cfg["color_strength"], cfg["size"]
        colour = not cfg["grayscale_input"]
        jitter = T.ColorJitter(0.8 * s, 0.8 * s, 0.8 * s, 0.2 * s) if colour else T.ColorJitter(0.8 * s, 0.8 * s)
        tfs = [T.RandomResizedCrop(size, scale=(0.08, 1.0)), T.RandomHorizontalFlip(), T.RandomApply([jitter], p=0.8)]
        if colour:
            tfs.append(T.RandomGrayscale(p=0.2))
        if cfg["blur_p"] > 0:
            tfs.append(T.RandomApply([T.GaussianBlur(blur_kernel_size(size), sigma=(0.1, 2.0))], p=cfg["blur_p"]))
        tfs.append(T.ToTensor())
        self.transform = T.Compose(tfs)

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        from PIL import Image
        a = self.images[i]
        img = Image.fromarray(a[0]) if a.shape[0] == 1 else Image.fromarray(a.transpose(1, 2, 0))
        return self.transform(img), self.transform(img)


# ---------------------------------------------------------------------------------------------------- loop
def main():
    spec = json.loads(sys.argv[1])
    torch.set_num_threads(spec["threads"])
    torch.manual_seed(spec["seed"])
    images = load_images(spec["data"])
    mode = spec["mode"]
    # The DataLoader fills a queue of workers x prefetch_factor (2) batches during the first step; measuring before
    # it has drained would credit the PIL pipeline with augmentation done before the measured steps.
    warmup = spec["warmup"] + (2 * spec["workers"] if mode == "pil" else 0)
    bs, steps = spec["batch"], warmup + spec["steps"]
    c = images.shape[1]
    cfg = dict(size=images.shape[2], color_strength=spec["color_strength"], blur_p=spec["blur_p"], grayscale_input=c == 1)
    model = SimCLRModel(spec["width"], c, spec["stem"] == "cifar").train()
    opt = LARS(lars_groups(model, 1e-6), lr=0.3 * bs / 256)
    bf16 = spec.get("precision") == "bf16"

    loader = None
    if mode == "pil":
        ds = PilTwoViews(images, cfg)
        # One sampling pass covering the run plus the queue's lookahead: no epoch boundary falls inside the run, and
        # the workers keep producing (at one batch per step in the steady state) until its last step.
        sampler = torch.utils.data.RandomSampler(ds, replacement=True, num_samples=bs * (steps + 2 * spec["workers"]),
                                                 generator=torch.Generator().manual_seed(spec["seed"]))
        loader = iter(torch.utils.data.DataLoader(ds, batch_size=bs, sampler=sampler, num_workers=spec["workers"],
                                                  drop_last=True, persistent_workers=True))
    fixed = None
    if mode == "compute":
        idx = torch.arange(bs) % images.shape[0]
        batch = images[idx]
        fixed = torch.cat([apply_views(batch, sample_view_params(cfg, *batch.shape[2:], spec["seed"], 0, idx.tolist(), v), cfg) for v in (0, 1)])

    def cpu_seconds():
        # The main process's threads plus, for the PIL pipeline, its DataLoader workers (/proc: utime + stime).
        total = time.process_time()
        for w in getattr(loader, "_workers", []):
            with open(f"/proc/{w.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        return total

    perm = torch.randperm(images.shape[0])
    rows = []
    started = time.perf_counter()
    for step in range(steps):
        t0 = time.perf_counter()
        c0 = cpu_seconds()
        if mode == "pil":
            v1, v2 = next(loader)
            t1 = time.perf_counter()
            x = torch.cat([v1, v2])
            t2 = time.perf_counter()
        elif mode == "batched":
            start = (step * bs) % (images.shape[0] - bs + 1)
            idx = perm[start:start + bs]
            batch = images[idx]
            t1 = time.perf_counter()
            x = torch.cat([apply_views(batch, sample_view_params(cfg, *batch.shape[2:], spec["seed"], 0, idx.tolist(), v), cfg) for v in (0, 1)])
            t2 = time.perf_counter()
        else:
            t1 = t2 = t0
            x = fixed
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            z = model(x)
        z = z.float()
        t3 = time.perf_counter()
        z1, z2 = z.chunk(2)
        loss, acc = nt_xent(z1, z2, 0.5)
        loss_value = loss.item()
        acc.item()
        t4 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        t5 = time.perf_counter()
        opt.step()
        t6 = time.perf_counter()
        if not math.isfinite(loss_value):
            raise SystemExit(f"loss is {loss_value} at step {step}")
        rows.append(dict(data=t1 - t0, augment=t2 - t1, forward=t3 - t2, loss=t4 - t3, backward=t5 - t4, optimizer=t6 - t5, total=t6 - t0,
                         cpu=cpu_seconds() - c0))
    print(json.dumps(dict(steps=rows[warmup:], wall=time.perf_counter() - started, threads=torch.get_num_threads(),
                          torch=torch.__version__)))


if __name__ == "__main__":
    main()
