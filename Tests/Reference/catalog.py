"""catalog.json: parameter count, float buffer elements, state_dict keys and forward MACs
(multiply-accumulates of every convolution and linear layer) of named models at their input
sizes, exactly as PyTorch counts them. Models are built on the meta device: no memory, no math."""
import torch
import torch.nn as nn

import models as M

# name: per-sample input (C, H, W); ImageNet-sized models keep their 1000-class head.
MODELS = {
    'cifar_cnn': (3, 32, 32), 'resnet20': (3, 32, 32), 'resnet56': (3, 32, 32), 'resnet110': (3, 32, 32),
    'resnet18_cifar_stem': (3, 32, 32), 'resnet18': (3, 224, 224), 'resnet34': (3, 224, 224),
    'resnet50': (3, 224, 224), 'resnet152': (3, 224, 224), 'densenet_bc_100_k12': (3, 32, 32),
    'densenet_bc_250_k24': (3, 32, 32), 'densenet121': (3, 224, 224), 'densenet201': (3, 224, 224),
}


def forward_macs(model, sample_shape):
    total = 0

    def count(module, inputs, output):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            total += output.numel() * (module.in_channels // module.groups) * kh * kw
        elif isinstance(module, nn.Linear):
            total += output.numel() * module.in_features

    hooks = [m.register_forward_hook(count) for m in model.modules()]
    with torch.no_grad():
        model.eval()(torch.zeros(1, *sample_shape, device='meta'))
    for h in hooks:
        h.remove()
    return total


def entry(name, sample_shape):
    with torch.device('meta'):
        model = M.zoo(name, 1000 if sample_shape[-1] == 224 else 10, sample_shape[0])
    return {'input': list(sample_shape),
            'params': sum(p.numel() for p in model.parameters()),
            'buffers_float': sum(b.numel() for b in model.buffers() if b.dtype.is_floating_point),
            'state_dict_keys': len(model.state_dict()),
            'forward_macs': forward_macs(model, sample_shape)}


def build():
    return {name: entry(name, shape) for name, shape in MODELS.items()}
