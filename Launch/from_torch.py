#!/usr/bin/env python3
"""Write a PyTorch state_dict as a trainer checkpoint, to start a run from it (fine-tuning):

    python3 Launch/from_torch.py resnet18-f37072fd.pth init.h5 --model resnet18   # torchvision weights
    python3 Launch/from_torch.py model.pt init.h5 --model resnet20                # a saved state_dict
    python3 Launch/from_torch.py resnet20 init.h5 --seed 0                        # a freshly initialised reference model

then in the run's config:

    model:
      name: resnet18
      init_from: init.h5

SOURCE is a file torch.load reads — a state_dict, a dict holding one under 'state_dict' or
'model', or a whole nn.Module — or the name of a model of the trainer's zoo (cifar_cnn,
resnet20, ..., densenet_bc_40_k12, ...; see to_torch.zoo), built by PyTorch with torch.manual_seed(SEED).
Keys are cleaned the usual ways: a DistributedDataParallel 'module.' prefix is dropped, and
torchvision's legacy DenseNet keys ('denselayer1.norm.1.weight') become the current ones
('denselayer1.norm1.weight'). With --model (or a zoo name as SOURCE) the state_dict is first
loaded into that PyTorch model with strict=True, so a key or shape mismatch is reported here,
naming the keys, rather than at the start of a training job.

The file written is a complete trainer checkpoint (DESIGN.md layout; format, version,
complete = 1 and the checksum of Sources/IO/CheckpointFile.swift), so it passes the trainer's
validation like any checkpoint it wrote itself: /model holds every state_dict entry (float32;
num_batches_tracked int64), /optimizer is empty, step/epoch/samples_seen are 0, global_batch is
0 and config is empty (so `checkpoint.resume: PATH` would refuse it as another global batch —
it is meant for `model.init_from`, which loads the weights and BN buffers by name, strictly, and
starts optimizer and cursor fresh). The `model` attribute names the architecture when known.

Needs torch, h5py and numpy (and to_torch.py next to this file for --model).
"""
import argparse
import datetime
import hashlib
import os
import re
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import to_torch  # noqa: E402  (reference models and the checksum recipe)

_DENSENET_LEGACY = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$")


def clean(state_dict):
    """Plain tensors by key, without 'module.' prefixes, torchvision's legacy DenseNet keys renamed."""
    out = {}
    for k, v in state_dict.items():
        if not torch.is_tensor(v):
            continue
        k = k[len("module."):] if k.startswith("module.") else k
        m = _DENSENET_LEGACY.match(k)
        if m:
            k = m.group(1) + m.group(2)
        out[k] = v.detach().cpu()
    return out


def load_source(source, seed=0, num_classes=10, in_ch=3):
    """(state_dict, model name or None) from a file or a zoo model name."""
    if not os.path.exists(source):
        torch.manual_seed(seed)
        return to_torch.zoo(source, num_classes, in_ch).state_dict(), source
    try:
        obj = torch.load(source, map_location="cpu", weights_only=True)
    except Exception:
        obj = torch.load(source, map_location="cpu", weights_only=False)   # a pickled nn.Module
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if isinstance(obj, dict):
        for key in ("state_dict", "model", "model_state_dict"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not any(torch.is_tensor(v) for v in obj.values()):
        raise ValueError(f"{source}: holds no state_dict (a dict of tensors)")
    return obj, None


def check_against(model_name, sd):
    """Loads `sd` into the PyTorch reference model `model_name` with strict=True."""
    fc = [v for k, v in sd.items() if k.endswith("weight") and v.dim() == 2]
    conv = [v for k, v in sd.items() if k.endswith("weight") and v.dim() == 4]
    model = to_torch.zoo(model_name, int(fc[-1].shape[0]) if fc else 10, int(conv[0].shape[1]) if conv else 3)
    model.load_state_dict(sd, strict=True)


def write_checkpoint(sd, path, model_name=None, source=""):
    """Writes `sd` as a complete, checksummed trainer checkpoint (atomically: .tmp then rename)."""
    tmp = path + ".tmp"
    with h5py.File(tmp, "w") as f:
        g = f.create_group("model")
        f.create_group("optimizer")
        for k, v in sd.items():
            if "/" in k or not k:
                raise ValueError(f"{source}: key {k!r}: state_dict keys must be non-empty and contain no '/'")
            if v.dtype in (torch.int64, torch.int32, torch.long) and v.dim() == 0:
                g.create_dataset(k, data=np.int64(v.item()))
            else:
                g.create_dataset(k, data=np.ascontiguousarray(v.to(torch.float32).numpy()))
        a = f.attrs
        a["format"] = to_torch.FORMAT
        a["version"] = np.int64(to_torch.VERSION)
        for k in ("step", "epoch", "samples_seen", "global_batch", "seed"):
            a[k] = np.int64(0)
        a["world_size"] = np.int64(1)
        a["config"] = ""
        a["config_sha256"] = hashlib.sha256(b"").hexdigest()
        a["created"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        if model_name:
            a["model"] = model_name
        a["source"] = f"Launch/from_torch.py {source}".strip()
        a["checksum"] = to_torch.checksum(f)
        f.flush()
        a["complete"] = np.int64(1)
    fd = os.open(tmp, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    os.replace(tmp, path)


def main(argv=None):
    p = argparse.ArgumentParser(description="Write a PyTorch state_dict as a trainer checkpoint (for model.init_from).")
    p.add_argument("source", help="a .pt/.pth file (state_dict, {'state_dict': ...} or nn.Module) or a zoo model name")
    p.add_argument("output", help="checkpoint to write (.h5)")
    p.add_argument("--model", help="check the keys against this zoo model (strict=True) and record its name")
    p.add_argument("--seed", type=int, default=0, help="torch.manual_seed for a model built by name (default 0)")
    p.add_argument("--num-classes", type=int, default=10, help="classes of a model built by name (default 10)")
    p.add_argument("--in-channels", type=int, default=3, help="input channels of a model built by name (default 3)")
    a = p.parse_args(argv)
    try:
        raw, built = load_source(a.source, a.seed, a.num_classes, a.in_channels)
        sd = clean(raw)
        name = a.model or built
        if name:
            check_against(name, sd)
        write_checkpoint(sd, a.output, name, a.source)
    except (ValueError, OSError, RuntimeError, KeyError) as e:
        sys.exit(f"from_torch: {e}")
    params = sum(v.numel() for k, v in sd.items() if v.is_floating_point())
    print(f"wrote {a.output}: {len(sd)} state_dict entries ({params:,} floats)"
          + (f", checked against {name} with strict=True" if name else ""))


if __name__ == "__main__":
    main()
