#!/usr/bin/env python3
"""Load a trainer checkpoint (HDF5) into the PyTorch model it was trained as.

    python3 Launch/to_torch.py runs/cifar/ckpt-3900.h5                 # check: strict load, print summary
    python3 Launch/to_torch.py runs/cifar/ckpt-3900.h5 model.pt        # also save the state_dict (torch.save)
    python3 Launch/to_torch.py CKPT --logits images.h5 out.h5          # eval-mode logits of /images (float32 NCHW)

From Python:

    import sys; sys.path.insert(0, "Launch")
    import to_torch
    model = to_torch.load("runs/cifar/ckpt-3900.h5")     # nn.Module in eval mode, strict=True load
    sd, attrs = to_torch.read_checkpoint(path)          # state_dict (OrderedDict) and root attributes

The checkpoint layout is DESIGN.md's: /model/<state_dict key> (float32; BN num_batches_tracked
int64), /optimizer/<key>/<slot>, root attributes (format, step, config, checksum, complete, ...).
Reading checks format, complete = 1 and the checksum (the recipe of Sources/IO/CheckpointFile.swift).

The architecture is rebuilt from the `model:` section of the config text stored in the checkpoint.
The definitions below follow the project's reference (Tests/Reference/models.py), whose
state_dict keys are torchvision's for ResNet and DenseNet and nn.Sequential indices for the CIFAR
CNN and `layers` lists; num_classes and in_channels are read from the weights. A BN-folded
checkpoint (trainer fold-bn, folded_bn = 1) has no PyTorch counterpart and is refused.

Needs torch, h5py and numpy (PyYAML is used when installed; the stored config text is the
trainer's canonical YAML, which a small built-in reader also understands).
"""
import argparse
import collections
import hashlib
import json
import re
import sys

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

FORMAT = "trainer-checkpoint"
VERSION = 1


# ---------------------------------------------------------------------------------------------
# Checkpoint files


def checksum(f):
    """'sha256:<hex>' over every dataset under /model and /optimizer: for each, in order of its
    path (no leading slash) compared as UTF-8 bytes, the path, one zero byte, the stored bytes."""
    keys = []
    for group in ("model", "optimizer"):
        if group in f:
            f[group].visititems(lambda name, obj, g=group: keys.append(g + "/" + name)
                                if isinstance(obj, h5py.Dataset) else None)
    h = hashlib.sha256()
    for k in sorted(keys, key=str.encode):
        h.update(k.encode() + b"\0" + np.ascontiguousarray(f[k][()]).tobytes())
    return "sha256:" + h.hexdigest()


def _attr(v):
    return v.decode() if isinstance(v, bytes) else (v.item() if isinstance(v, np.generic) else v)


def read_checkpoint(path, verify=True):
    """(state_dict, attributes): /model as an OrderedDict of tensors (file order) and the root
    attributes as plain Python values. With `verify`, a file that is not a complete trainer
    checkpoint with a matching checksum raises ValueError naming the file and the problem."""
    with h5py.File(path, "r") as f:
        attrs = {k: _attr(v) for k, v in f.attrs.items()}
        if attrs.get("format") != FORMAT:
            raise ValueError(f"{path}: not a trainer checkpoint (root attribute format != {FORMAT!r})")
        if verify:
            if attrs.get("complete") != 1:
                raise ValueError(f"{path}: incomplete checkpoint (no complete = 1): the writer was interrupted")
            computed = checksum(f)
            if attrs.get("checksum") != computed:
                raise ValueError(f"{path}: checksum mismatch (stored {attrs.get('checksum')}, computed {computed})")
        if "model" not in f:
            raise ValueError(f"{path}: /model not found")
        sd = collections.OrderedDict()
        for k, d in f["model"].items():
            a = d[()]
            sd[k] = torch.tensor(int(a), dtype=torch.int64) if d.dtype.kind in "iu" else torch.from_numpy(np.asarray(a, dtype=np.float32).copy())
    return sd, attrs


# ---------------------------------------------------------------------------------------------
# Reference models (as Tests/Reference/models.py; torchvision state_dict names). A copy, so this
# script works on its own outside the repository; InteropTests loads checkpoints into both.


def cifar_cnn(num_classes=10, in_ch=3):
    def c(i, o): return [nn.Conv2d(i, o, 3, padding=1), nn.ReLU()]
    return nn.Sequential(*c(in_ch, 16), *c(16, 16), nn.MaxPool2d(2, 2), *c(16, 32), *c(32, 32), nn.MaxPool2d(2, 2),
                         *c(32, 64), *c(64, 64), nn.MaxPool2d(2, 2), *c(64, 128), *c(128, 128),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, num_classes))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(s, i, planes, stride=1, downsample=None):
        super().__init__()
        s.conv1 = nn.Conv2d(i, planes, 3, stride, 1, bias=False); s.bn1 = nn.BatchNorm2d(planes)
        s.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False); s.bn2 = nn.BatchNorm2d(planes)
        s.downsample = downsample

    def forward(s, x):
        y = F.relu(s.bn1(s.conv1(x))); y = s.bn2(s.conv2(y))
        return F.relu(y + (x if s.downsample is None else s.downsample(x)))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(s, i, planes, stride=1, downsample=None):
        super().__init__()
        s.conv1 = nn.Conv2d(i, planes, 1, bias=False); s.bn1 = nn.BatchNorm2d(planes)
        s.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False); s.bn2 = nn.BatchNorm2d(planes)
        s.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False); s.bn3 = nn.BatchNorm2d(planes * 4)
        s.downsample = downsample

    def forward(s, x):
        y = F.relu(s.bn1(s.conv1(x))); y = F.relu(s.bn2(s.conv2(y))); y = s.bn3(s.conv3(y))
        return F.relu(y + (x if s.downsample is None else s.downsample(x)))


class ResNet(nn.Module):
    def __init__(s, block, blocks, widths, num_classes=10, stem='imagenet', in_ch=3):
        super().__init__()
        s.inplanes = widths[0]
        if stem == 'imagenet':
            s.conv1 = nn.Conv2d(in_ch, widths[0], 7, 2, 3, bias=False); s.pool = nn.MaxPool2d(3, 2, 1)
        else:
            s.conv1 = nn.Conv2d(in_ch, widths[0], 3, 1, 1, bias=False); s.pool = nn.Identity()
        s.bn1 = nn.BatchNorm2d(widths[0])
        s.stages = []
        for k, (n, w) in enumerate(zip(blocks, widths)):
            layer = s._make(block, w, n, 1 if k == 0 else 2)
            setattr(s, f'layer{k + 1}', layer); s.stages.append(layer)
        s.fc = nn.Linear(widths[-1] * block.expansion, num_classes)

    def _make(s, block, planes, n, stride):
        down = None
        if stride != 1 or s.inplanes != planes * block.expansion:
            down = nn.Sequential(nn.Conv2d(s.inplanes, planes * block.expansion, 1, stride, bias=False),
                                 nn.BatchNorm2d(planes * block.expansion))
        layers = [block(s.inplanes, planes, stride, down)]; s.inplanes = planes * block.expansion
        layers += [block(s.inplanes, planes) for _ in range(1, n)]
        return nn.Sequential(*layers)

    def forward(s, x):
        x = s.pool(F.relu(s.bn1(s.conv1(x))))
        for layer in s.stages: x = layer(x)
        return s.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class DenseLayer(nn.Module):
    def __init__(s, i, k, bn_size):
        super().__init__()
        s.norm1 = nn.BatchNorm2d(i); s.conv1 = nn.Conv2d(i, bn_size * k, 1, bias=False)
        s.norm2 = nn.BatchNorm2d(bn_size * k); s.conv2 = nn.Conv2d(bn_size * k, k, 3, padding=1, bias=False)

    def forward(s, x):
        y = s.conv1(F.relu(s.norm1(x))); y = s.conv2(F.relu(s.norm2(y)))
        return torch.cat([x, y], 1)


class DenseNet(nn.Module):
    def __init__(s, growth, blocks, init_features, bn_size=4, compression=0.5, num_classes=10, stem='imagenet', in_ch=3):
        super().__init__()
        f = nn.Sequential()
        if stem == 'imagenet':
            f.add_module('conv0', nn.Conv2d(in_ch, init_features, 7, 2, 3, bias=False))
            f.add_module('norm0', nn.BatchNorm2d(init_features)); f.add_module('relu0', nn.ReLU())
            f.add_module('pool0', nn.MaxPool2d(3, 2, 1))
        else:
            f.add_module('conv0', nn.Conv2d(in_ch, init_features, 3, 1, 1, bias=False))
        c = init_features
        for b, n in enumerate(blocks):
            blk = nn.Sequential()
            for l in range(n):
                blk.add_module(f'denselayer{l + 1}', DenseLayer(c, growth, bn_size)); c += growth
            f.add_module(f'denseblock{b + 1}', blk)
            if b < len(blocks) - 1:
                o = int(c * compression)
                t = nn.Sequential(); t.add_module('norm', nn.BatchNorm2d(c)); t.add_module('relu', nn.ReLU())
                t.add_module('conv', nn.Conv2d(c, o, 1, bias=False)); t.add_module('pool', nn.AvgPool2d(2, 2))
                f.add_module(f'transition{b + 1}', t); c = o
        f.add_module('norm5', nn.BatchNorm2d(c))
        s.features = f; s.classifier = nn.Linear(c, num_classes)

    def forward(s, x):
        x = F.relu(s.features(x))
        return s.classifier(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


RESNET_IMAGENET = {18: (BasicBlock, [2, 2, 2, 2]), 34: (BasicBlock, [3, 4, 6, 3]),
                   50: (Bottleneck, [3, 4, 6, 3]), 101: (Bottleneck, [3, 4, 23, 3]),
                   152: (Bottleneck, [3, 8, 36, 3])}
DENSENET_IMAGENET = {121: (32, [6, 12, 24, 16], 64), 169: (32, [6, 12, 32, 32], 64),
                     201: (32, [6, 12, 48, 32], 64), 264: (32, [6, 12, 64, 48], 64),
                     161: (48, [6, 12, 36, 24], 96)}


def zoo(name, num_classes=10, in_ch=3):
    """A preset of the trainer's model zoo (ModelZoo.swift) by name."""
    if name == "cifar_cnn":
        return cifar_cnn(num_classes, in_ch)
    if name in ("resnet20", "resnet32", "resnet44", "resnet56", "resnet110"):
        n = (int(name[6:]) - 2) // 6
        return ResNet(BasicBlock, [n, n, n], [16, 32, 64], num_classes, 'cifar', in_ch)
    if name == "resnet18_cifar_stem":
        return ResNet(BasicBlock, [2, 2, 2, 2], [64, 128, 256, 512], num_classes, 'cifar', in_ch)
    if name.startswith("resnet") and name[6:].isdigit() and int(name[6:]) in RESNET_IMAGENET:
        block, blocks = RESNET_IMAGENET[int(name[6:])]
        return ResNet(block, blocks, [64, 128, 256, 512], num_classes, 'imagenet', in_ch)
    if name.startswith("densenet_bc_"):
        depth, k = name[len("densenet_bc_"):].split("_k")
        n = (int(depth) - 4) // 6
        return DenseNet(int(k), [n, n, n], 2 * int(k), num_classes=num_classes, stem='cifar', in_ch=in_ch)
    if name.startswith("densenet") and name[8:].isdigit() and int(name[8:]) in DENSENET_IMAGENET:
        k, blocks, init = DENSENET_IMAGENET[int(name[8:])]
        return DenseNet(k, blocks, init, num_classes=num_classes, stem='imagenet', in_ch=in_ch)
    raise ValueError(f"unknown model '{name}'")


def layer_list(specs, input_shape, num_classes=None):
    """`model.name: layers` as an nn.Sequential (keys '0.weight', ...), shapes inferred on the way."""
    mods, x = [], torch.zeros(1, *input_shape)
    for entry in specs:
        kind, a = (entry, {}) if isinstance(entry, str) else next(iter(entry.items()))
        a = a or {}
        if kind == "conv":
            m = nn.Conv2d(x.shape[1], a["out"], a.get("kernel", 3), a.get("stride", 1), a.get("padding", 0),
                          groups=a.get("groups", 1), bias=a.get("bias", True))
        elif kind == "batchnorm":
            m = nn.BatchNorm2d(x.shape[1]) if x.dim() == 4 else nn.BatchNorm1d(x.shape[1])
        elif kind in ("relu", "relu6", "sigmoid", "tanh"):
            m = {"relu": nn.ReLU, "relu6": nn.ReLU6, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}[kind]()
        elif kind == "flatten":
            m = nn.Flatten()
        elif kind == "maxpool":
            m = nn.MaxPool2d(a["kernel"], a.get("stride") or a["kernel"], a.get("padding", 0))
        elif kind == "avgpool":
            m = nn.AvgPool2d(a["kernel"], a.get("stride") or a["kernel"], a.get("padding", 0))
        elif kind == "adaptive_avgpool":
            out = a.get("out", 1)
            m = nn.AdaptiveAvgPool2d(tuple(out) if isinstance(out, list) else out)
        elif kind == "dropout":
            m = nn.Dropout(a.get("p", 0.5))
        elif kind == "linear":
            m = nn.Linear(x.shape[1], a["out"], bias=a.get("bias", True))
        else:
            raise ValueError(f"layers: unknown layer type '{kind}'")
        mods.append(m)
        with torch.no_grad():
            x = m.eval()(x)
    return nn.Sequential(*mods)


def build_model(model_cfg, state_dict):
    """The nn.Module for a config's `model:` section, sized from the state_dict's shapes."""
    name = model_cfg["name"]
    first = next((v for k, v in state_dict.items() if k.endswith("weight") and v.dim() == 4), None)
    in_ch = int(model_cfg.get("in_channels") or (first.shape[1] if first is not None else 3))
    head = [v for k, v in state_dict.items() if k.endswith("weight") and v.dim() == 2]
    num_classes = int(model_cfg.get("num_classes") or (head[-1].shape[0] if head else 10))
    if name == "layers":
        return layer_list(model_cfg["layers"], model_cfg["input"], num_classes)
    if name == "resnet":
        blocks = model_cfg["blocks"]
        stem = model_cfg.get("stem", "imagenet")
        widths = model_cfg.get("widths") or [(16 if stem == "cifar" else 64) * 2 ** i for i in range(len(blocks))]
        block = Bottleneck if model_cfg.get("block", "basic") == "bottleneck" else BasicBlock
        return ResNet(block, blocks, widths, num_classes, stem, in_ch)
    if name == "densenet":
        growth = model_cfg.get("growth", 32)
        return DenseNet(growth, model_cfg["blocks"], model_cfg.get("init_features") or 2 * growth,
                        model_cfg.get("bn_size", 4), model_cfg.get("compression", 0.5), num_classes,
                        model_cfg.get("stem", "imagenet"), in_ch)
    return zoo(name, num_classes, in_ch)


def _scalar(v):
    """One value of the canonical config text: null, bool, number, string, or a flow list/mapping."""
    v = v.strip()
    if v in ("", "null", "~"):
        return None
    if v in ("true", "false"):
        return v == "true"
    if v[0] in "[{":
        j = re.sub(r"([{,]\s*)([A-Za-z_]\w*)\s*:", r'\1"\2":', v)                        # quote keys
        j = re.sub(r"([:\[,]\s*)([A-Za-z_][\w.\-/]*)(?=\s*[,}\]])",
                   lambda m: m.group(0) if m.group(2) in ("true", "false", "null") else f'{m.group(1)}"{m.group(2)}"', j)
        return json.loads(j)
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return v[1:-1] if len(v) > 1 and v[0] == v[-1] and v[0] in "'\"" else v


def _model_section(text):
    """The `model:` mapping of the trainer's canonical config text (two-space indentation,
    `layers:` as a block list), without PyYAML."""
    cfg, in_model, key = {}, False, None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" "):
            in_model = line.strip() == "model:"
            continue
        if not in_model:
            continue
        if line.startswith("    - ") and key:
            name, colon, rest = line[6:].partition(":")
            cfg[key].append({name.strip(): _scalar(rest) or {}} if colon else name.strip())
        elif line.startswith("  ") and not line.startswith("   "):
            key, _, value = line.strip().partition(":")
            cfg[key] = _scalar(value) if value.strip() else []
    return cfg


def model_config(attrs):
    """The `model:` section of the checkpoint's stored config (name from the `model` attribute
    when the config text is absent, as in files written by from_torch.py)."""
    text = attrs.get("config") or ""
    cfg = None
    if text.strip():
        try:
            import yaml
            cfg = (yaml.safe_load(text) or {}).get("model")
        except ImportError:
            cfg = _model_section(text)
    if not cfg:
        if not attrs.get("model"):
            raise ValueError("checkpoint holds neither config text nor a model name attribute")
        cfg = {"name": attrs["model"]}
    return cfg


def load(path, verify=True):
    """The checkpoint's model as an nn.Module in eval mode, loaded with strict=True."""
    sd, attrs = read_checkpoint(path, verify)
    if attrs.get("folded_bn") == 1:
        raise ValueError(f"{path}: a BN-folded inference checkpoint (trainer fold-bn) has no PyTorch reference model; "
                         f"convert the checkpoint it was folded from ({attrs.get('folded_from', '?')})")
    model = build_model(model_config(attrs), sd)
    model.load_state_dict(sd, strict=True)
    return model.eval()


def main(argv=None):
    p = argparse.ArgumentParser(description="Load a trainer checkpoint into its PyTorch model (strict=True).")
    p.add_argument("checkpoint")
    p.add_argument("output", nargs="?", help="save the state_dict here with torch.save (.pt)")
    p.add_argument("--logits", nargs=2, metavar=("IN_H5", "OUT_H5"),
                   help="write eval-mode /logits of IN_H5's float32 (N, C, H, W) /images")
    a = p.parse_args(argv)
    try:
        model = load(a.checkpoint)
    except (ValueError, OSError, RuntimeError, KeyError) as e:
        sys.exit(f"to_torch: {e}")
    params = sum(t.numel() for t in model.parameters())
    print(f"{a.checkpoint}: loaded into {type(model).__name__} with strict=True ({params:,} parameters, "
          f"{len(model.state_dict())} state_dict keys)")
    if a.output:
        torch.save(model.state_dict(), a.output)
        print(f"wrote {a.output}")
    if a.logits:
        with h5py.File(a.logits[0], "r") as f:
            x = torch.from_numpy(np.asarray(f["images"][()], dtype=np.float32))
        with torch.no_grad():
            y = model(x)
        with h5py.File(a.logits[1], "w") as f:
            f["logits"] = y.numpy().astype(np.float32)
        print(f"wrote {a.logits[1]}: /logits {tuple(y.shape)}")


if __name__ == "__main__":
    main()
