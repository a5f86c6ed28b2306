#!/usr/bin/python3
"""Golden values for test/nn and test/models, from PyTorch 1.13 / torchvision 0.14.

Run: /usr/bin/python3 test/golden/gen_nn.py  (writes test/golden/nn.json and test/golden/nn_resnet.json)

Weights and inputs come from a formula that test/nn/formula.ts reproduces bit for bit (integer arithmetic and
correctly rounded float64 operations only, rounded once to float32), so no weights are stored:
    u(n, k)[j] = ((j * 7919 + k * 104729) mod 10007) / 10007 - 0.5        (j = 0 .. n-1, in [-0.5, 0.5))
    value = offset + scale * u
Initialisation checks instead seed PyTorch's generator, which the TypeScript side seeds identically.
"""
import json
import math
import os
import re

import numpy as np
import torch
import torch.nn as nn
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))


def formula(shape, k, scale=1.0, offset=0.0):
    n = int(np.prod(shape, dtype=np.int64))
    j = np.arange(n, dtype=np.int64)
    u = ((j * 7919 + k * 104729) % 10007).astype(np.float64) / 10007 - 0.5
    return torch.from_numpy((offset + scale * u).astype(np.float32).reshape(shape))


def state_value(name, t, k):
    """The deterministic value of state-dict entry number k (see formula.ts stateValue)."""
    shape = tuple(t.shape)
    if t.dim() == 4:
        return formula(shape, k, math.sqrt(24 / (shape[1] * shape[2] * shape[3])))
    if re.search(r'^layer\d\.\d+\.bn3\.weight$', name):
        # Small residual-branch scales (as zero-init-residual training starts with): at full scale the 50-layer
        # net in train mode amplifies rounding differences (e.g. thread count) into percent-level output changes.
        return formula(shape, k, 0.02, 0.05)
    if name.endswith('running_var') or name.endswith('weight'):
        return formula(shape, k, 0.5, 1.0)
    return formula(shape, k, 0.2)


def flat(t):
    return [float('%.8g' % v) for v in t.detach().reshape(-1).tolist()]


def init_golden():
    out = {}
    torch.manual_seed(7)
    conv = nn.Conv2d(3, 4, 3)
    out['conv2d'] = {'seed': 7, 'weight': flat(conv.weight), 'bias': flat(conv.bias)}
    torch.manual_seed(10)
    grouped = nn.Conv2d(4, 6, (3, 2), groups=2)
    out['conv2dGrouped'] = {'seed': 10, 'weight': flat(grouped.weight), 'bias': flat(grouped.bias)}
    torch.manual_seed(8)
    lin = nn.Linear(5, 3)
    out['linear'] = {'seed': 8, 'weight': flat(lin.weight), 'bias': flat(lin.bias)}
    torch.manual_seed(9)
    w = torch.empty(8, 4, 3, 3)
    nn.init.kaiming_normal_(w, mode='fan_out', nonlinearity='relu')
    out['kaimingNormalFanOut'] = {'seed': 9, 'shape': list(w.shape), 'values': flat(w)}
    return out


def layers_golden():
    out = {}
    conv = nn.Conv2d(4, 6, 3, stride=2, padding=1, dilation=2, groups=2)
    with torch.no_grad():
        conv.weight.copy_(formula((6, 2, 3, 3), 221, 0.5))
        conv.bias.copy_(formula((6,), 222, 0.2))
        y = conv(formula((2, 4, 7, 7), 223, 2.0))
    out['conv2d'] = {'shape': list(y.shape), 'y': flat(y)}

    lin = nn.Linear(5, 3)
    with torch.no_grad():
        lin.weight.copy_(formula((3, 5), 231, 0.5))
        lin.bias.copy_(formula((3,), 232, 0.2))
        y = lin(formula((4, 5), 233, 2.0))
    out['linear'] = {'y': flat(y)}

    bn = nn.BatchNorm2d(3)
    with torch.no_grad():
        bn.weight.copy_(formula((3,), 201, 0.5, 1.0))
        bn.bias.copy_(formula((3,), 202, 0.2))
    bn.train()
    y1 = bn(formula((4, 3, 5, 5), 203, 2.0, 0.3))
    bn(formula((4, 3, 5, 5), 204, 3.0, -0.2))
    bn.eval()
    y3 = bn(formula((2, 3, 5, 5), 205, 2.0))
    out['batchNorm2d'] = {
        'yTrain': flat(y1), 'yEval': flat(y3), 'runningMean': flat(bn.running_mean), 'runningVar': flat(bn.running_var),
        'numBatchesTracked': int(bn.num_batches_tracked),
    }

    cumulative = nn.BatchNorm1d(3, momentum=None, affine=False)
    cumulative(formula((4, 3, 5), 211, 2.0, 0.5))
    cumulative(formula((6, 3), 212, 1.0, -0.5))
    cumulative.eval()
    y = cumulative(formula((2, 3), 213, 2.0))
    out['batchNorm1dCumulative'] = {'yEval': flat(y), 'runningMean': flat(cumulative.running_mean), 'runningVar': flat(cumulative.running_var)}
    return out


def torchvision_resnet(depth, stem='imagenet', in_channels=3):
    model = {18: torchvision.models.resnet18, 34: torchvision.models.resnet34, 50: torchvision.models.resnet50}[depth]()
    if stem == 'cifar':
        model.conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
        model.maxpool = nn.Identity()
    elif in_channels != 3:
        model.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
    model.fc = nn.Identity()
    return model


def resnet_case(depth, stem, in_channels, image_size, batch):
    model = torchvision_resnet(depth, stem, in_channels)
    sd = model.state_dict()
    for k, (name, t) in enumerate(list(sd.items())):
        if t.is_floating_point():
            sd[name] = state_value(name, t, k)
    model.load_state_dict(sd)
    x = formula((batch, in_channels, image_size, image_size), 5000, 2.0)

    model.eval()
    with torch.no_grad():
        h_eval = model(x)
    model.train()
    h_train = model(x)
    c = formula(tuple(h_train.shape), 5001)
    (h_train * c).sum().backward()

    last_block = f'layer4.{len(model.layer4) - 1}'
    last_bn = f'{last_block}.bn3' if depth == 50 else f'{last_block}.bn2'
    stats = ['bn1.running_mean', 'bn1.running_var', f'{last_bn}.running_mean', f'{last_bn}.running_var']
    grads = ['conv1.weight', 'bn1.bias', 'layer1.0.conv2.weight', 'layer3.0.downsample.0.weight', f'{last_bn}.weight']
    params = dict(model.named_parameters())
    buffers = dict(model.named_buffers())
    return {
        'depth': depth, 'stem': stem, 'inChannels': in_channels, 'imageSize': image_size, 'batch': batch,
        'featureDim': h_eval.shape[1],
        'hEval': flat(h_eval), 'hTrain': flat(h_train),
        'runningStats': {name: flat(buffers[name]) for name in stats},
        'grads': {
            name: {'shape': list(params[name].grad.shape), 'head': flat(params[name].grad.reshape(-1)[:64]),
                   'absSum': float(params[name].grad.abs().double().sum())}
            for name in grads
        },
    }


def resnet_golden():
    names = {}
    for depth in (18, 34, 50):
        sd = torchvision_resnet(depth).state_dict()
        names[f'resnet{depth}'] = [[k, list(t.shape), str(t.dtype).replace('torch.', '')] for k, t in sd.items()]
    cases = [
        resnet_case(18, 'cifar', 3, 16, 2),
        resnet_case(18, 'imagenet', 1, 64, 2),
        resnet_case(50, 'imagenet', 3, 64, 2),
    ]
    return {'names': names, 'cases': cases}


def main():
    torch.set_num_threads(2)
    meta = {'torch': torch.__version__, 'torchvision': torchvision.__version__, 'generator': 'test/golden/gen_nn.py'}
    with open(os.path.join(HERE, 'nn.json'), 'w') as f:
        json.dump({'meta': meta, 'init': init_golden(), 'layers': layers_golden()}, f, separators=(',', ':'))
    with open(os.path.join(HERE, 'nn_resnet.json'), 'w') as f:
        json.dump({'meta': meta, **resnet_golden()}, f, separators=(',', ':'))


if __name__ == '__main__':
    main()
