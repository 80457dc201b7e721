"""The project's PyTorch reference models: the ground truth of the fixtures and of the benchmarks.

Each builder fixes what the Swift models (Sources/Models) must match exactly: the architecture
(layer order, kernel, stride, padding, bias or not) and the state_dict keys, which are
torchvision's for ResNet and DenseNet and nn.Sequential indices for the CIFAR CNN. A trainer
checkpoint therefore loads into these models with strict=True, and torchvision weights load
into the trainer by name.

Presets (the names of ModelZoo.swift): `zoo(name)`; families with free widths and depths:
`ResNet(...)`, `DenseNet(...)`.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def conv3x3(cin, cout, stride=1, bias=False):
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=bias)


def conv1x1(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, kernel_size=1, stride=stride, bias=False)


# ---------------------------------------------------------------------------------------------
# CIFAR CNN: keys are nn.Sequential indices ('0.weight', '2.bias', ..., '23.weight')


def cifar_cnn(num_classes=10, in_ch=3):
    """Four stages of two 3x3 convolutions (with bias, each followed by ReLU), widths 16, 32, 64,
    128, a 2x2/2 max-pool between stages, global average pool, and a 128 -> classes linear."""
    layers, cin = [], in_ch
    for stage, width in enumerate((16, 32, 64, 128)):
        if stage > 0:
            layers.append(nn.MaxPool2d(2, 2))
        for _ in range(2):
            layers += [conv3x3(cin, width, bias=True), nn.ReLU()]
            cin = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes)]
    return nn.Sequential(*layers)


# ---------------------------------------------------------------------------------------------
# ResNet (torchvision naming: conv1 bn1 layer<k>.<i>.{conv,bn}<j> [downsample.0/.1] fc)


class BasicBlock(nn.Module):
    """3x3 conv-BN-ReLU, 3x3 conv-BN, plus the shortcut, ReLU."""
    expansion = 1

    def __init__(self, cin, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1, self.bn1 = conv3x3(cin, planes, stride), nn.BatchNorm2d(planes)
        self.conv2, self.bn2 = conv3x3(planes, planes), nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(y + shortcut)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (carries the stride, as torchvision v1.5), 1x1 expand by 4, shortcut, ReLU."""
    expansion = 4

    def __init__(self, cin, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1, self.bn1 = conv1x1(cin, planes), nn.BatchNorm2d(planes)
        self.conv2, self.bn2 = conv3x3(planes, planes, stride), nn.BatchNorm2d(planes)
        self.conv3, self.bn3 = conv1x1(planes, planes * 4), nn.BatchNorm2d(planes * 4)
        self.downsample = downsample

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(y + shortcut)


class ResNet(nn.Module):
    """Any number of stages of any widths. stem 'imagenet': 7x7/2 conv, BN, ReLU, 3x3/2 max-pool;
    stem 'cifar': 3x3/1 conv, BN, ReLU. Stage k > 1 starts with stride 2; a block whose shape
    changes gets a projection shortcut (1x1 conv + BN, 'downsample')."""

    def __init__(self, block, blocks, widths, num_classes=10, stem='imagenet', in_ch=3):
        super().__init__()
        first = widths[0]
        if stem == 'imagenet':
            self.conv1 = nn.Conv2d(in_ch, first, kernel_size=7, stride=2, padding=3, bias=False)
            self.stem_pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        elif stem == 'cifar':
            self.conv1 = conv3x3(in_ch, first)
            self.stem_pool = nn.Identity()
        else:
            raise ValueError(f"unknown stem '{stem}'")
        self.bn1 = nn.BatchNorm2d(first)
        cin = first
        self.stage_names = []
        for k, (count, planes) in enumerate(zip(blocks, widths)):
            stage, cin = self._stage(block, cin, planes, count, stride=1 if k == 0 else 2)
            self.add_module(f'layer{k + 1}', stage)
            self.stage_names.append(f'layer{k + 1}')
        self.fc = nn.Linear(cin, num_classes)

    @staticmethod
    def _stage(block, cin, planes, count, stride):
        cout = planes * block.expansion
        down = None
        if stride != 1 or cin != cout:
            down = nn.Sequential(conv1x1(cin, cout, stride), nn.BatchNorm2d(cout))
        members = [block(cin, planes, stride, down)] + [block(cout, planes) for _ in range(count - 1)]
        return nn.Sequential(*members), cout

    def forward(self, x):
        x = self.stem_pool(F.relu(self.bn1(self.conv1(x))))
        for name in self.stage_names:
            x = getattr(self, name)(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def resnet_cifar(depth, num_classes=10, in_ch=3):
    """ResNet-(6n+2) of He et al. 2016 for CIFAR (20, 32, 44, 56, 110): widths 16, 32, 64."""
    if (depth - 2) % 6:
        raise ValueError(f"CIFAR ResNet depth must be 6n+2, got {depth}")
    n = (depth - 2) // 6
    return ResNet(BasicBlock, [n, n, n], [16, 32, 64], num_classes, 'cifar', in_ch)


RESNET_DEPTHS = {18: (BasicBlock, [2, 2, 2, 2]), 34: (BasicBlock, [3, 4, 6, 3]),
                 50: (Bottleneck, [3, 4, 6, 3]), 101: (Bottleneck, [3, 4, 23, 3]),
                 152: (Bottleneck, [3, 8, 36, 3])}


def resnet(depth, num_classes=1000, stem='imagenet', in_ch=3):
    """torchvision's resnet18/34/50/101/152 (same state_dict), optionally with the CIFAR stem."""
    block, blocks = RESNET_DEPTHS[depth]
    return ResNet(block, blocks, [64, 128, 256, 512], num_classes, stem, in_ch)


# ---------------------------------------------------------------------------------------------
# DenseNet (torchvision naming: features.{conv0,norm0,denseblock<b>.denselayer<l>,
# transition<b>,norm5}, classifier)


class DenseLayer(nn.Module):
    """BN-ReLU-1x1 conv to bn_size*k channels, BN-ReLU-3x3 conv to k; appended to the input."""

    def __init__(self, cin, growth, bn_size):
        super().__init__()
        self.norm1, self.conv1 = nn.BatchNorm2d(cin), conv1x1(cin, bn_size * growth)
        self.norm2, self.conv2 = nn.BatchNorm2d(bn_size * growth), conv3x3(bn_size * growth, growth)

    def forward(self, x):
        y = self.conv1(F.relu(self.norm1(x)))
        y = self.conv2(F.relu(self.norm2(y)))
        return torch.cat([x, y], dim=1)


def transition(cin, cout):
    """BN-ReLU-1x1 conv-2x2/2 average pool between dense blocks."""
    t = nn.Sequential()
    t.add_module('norm', nn.BatchNorm2d(cin))
    t.add_module('relu', nn.ReLU())
    t.add_module('conv', conv1x1(cin, cout))
    t.add_module('pool', nn.AvgPool2d(kernel_size=2, stride=2))
    return t


class DenseNet(nn.Module):
    """stem 'imagenet': 7x7/2 conv0, norm0, ReLU, 3x3/2 max pool0; stem 'cifar': 3x3/1 conv0 only.
    Between blocks a transition keeps int(channels * compression) channels; norm5 and ReLU end
    the features, then global average pool and the classifier."""

    def __init__(self, growth, blocks, init_features, bn_size=4, compression=0.5, num_classes=10,
                 stem='imagenet', in_ch=3):
        super().__init__()
        f = nn.Sequential()
        if stem == 'imagenet':
            f.add_module('conv0', nn.Conv2d(in_ch, init_features, kernel_size=7, stride=2, padding=3, bias=False))
            f.add_module('norm0', nn.BatchNorm2d(init_features))
            f.add_module('relu0', nn.ReLU())
            f.add_module('pool0', nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        elif stem == 'cifar':
            f.add_module('conv0', conv3x3(in_ch, init_features))
        else:
            raise ValueError(f"unknown stem '{stem}'")
        channels = init_features
        for b, count in enumerate(blocks):
            block = nn.Sequential()
            for l in range(count):
                block.add_module(f'denselayer{l + 1}', DenseLayer(channels + l * growth, growth, bn_size))
            f.add_module(f'denseblock{b + 1}', block)
            channels += count * growth
            if b + 1 < len(blocks):
                f.add_module(f'transition{b + 1}', transition(channels, int(channels * compression)))
                channels = int(channels * compression)
        f.add_module('norm5', nn.BatchNorm2d(channels))
        self.features = f
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x):
        x = F.relu(self.features(x))
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


DENSENET_DEPTHS = {121: (32, [6, 12, 24, 16], 64), 161: (48, [6, 12, 36, 24], 96),
                   169: (32, [6, 12, 32, 32], 64), 201: (32, [6, 12, 48, 32], 64),
                   264: (32, [6, 12, 64, 48], 64)}


def densenet(depth, num_classes=1000, in_ch=3):
    """torchvision's densenet121/161/169/201 (same state_dict), and DenseNet-264."""
    growth, blocks, init = DENSENET_DEPTHS[depth]
    return DenseNet(growth, blocks, init, num_classes=num_classes, stem='imagenet', in_ch=in_ch)


def densenet_bc_cifar(depth, growth, num_classes=10, in_ch=3):
    """DenseNet-BC (L, k) of Huang et al. 2017 for CIFAR: 3 blocks of (L-4)/6 layers, 2k init features."""
    if (depth - 4) % 6:
        raise ValueError(f"DenseNet-BC depth must be 6n+4, got {depth}")
    n = (depth - 4) // 6
    return DenseNet(growth, [n, n, n], 2 * growth, num_classes=num_classes, stem='cifar', in_ch=in_ch)


# ---------------------------------------------------------------------------------------------
# The presets of ModelZoo.swift by name


def zoo(name, num_classes=10, in_ch=3):
    """The preset `name` of the trainer's model zoo."""
    if name == 'cifar_cnn':
        return cifar_cnn(num_classes, in_ch)
    if name == 'resnet18_cifar_stem':
        return resnet(18, num_classes, 'cifar', in_ch)
    if name.startswith('densenet_bc_'):
        depth, growth = name[len('densenet_bc_'):].split('_k')
        return densenet_bc_cifar(int(depth), int(growth), num_classes, in_ch)
    if name.startswith('densenet') and name[8:].isdigit():
        return densenet(int(name[8:]), num_classes, in_ch)
    if name.startswith('resnet') and name[6:].isdigit():
        depth = int(name[6:])
        return resnet(depth, num_classes, 'imagenet', in_ch) if depth in RESNET_DEPTHS else resnet_cifar(depth, num_classes, in_ch)
    raise ValueError(f"unknown model '{name}'")
