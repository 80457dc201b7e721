"""ops.h5: one group per op case, the reference every layer of Sources/NN is tested against.

A group holds the input `x`, the parameters by name (`weight`, `bias`), the upstream gradient
`gy`, and the float64 answers `y`, `gx`, `g<param>` (BatchNorm also `running_*_before/after`);
its attributes name the op (`op`) and its settings, which is all OpsFixtureTests needs to
rebuild the layer. `f32err/<key>` is the relative error PyTorch's own float32 run makes there.
"""
import numpy as np
import torch
import torch.nn.functional as F

from common import f32, relative_error


class Cases:
    """Draws every tensor from one seeded generator, in float32, then widens it to float64: the
    inputs are exactly representable in float32, the reference math is float64."""

    def __init__(self, h5, seed=0):
        self.h5 = h5
        self.gen = torch.Generator().manual_seed(seed)

    def normal(self, *shape, scale=1.0, shift=0.0):
        return (torch.randn(*shape, generator=self.gen) * scale + shift).double()

    def add(self, name, fn, x, params, attrs, extra=None):
        """Runs `fn(x, **params)` forward and backward in float64 and float32; writes the group."""
        g = self.h5.create_group(name)
        for k, v in attrs.items():
            g.attrs[k] = v
        x64 = x.clone().requires_grad_(True)
        p64 = {k: v.clone().requires_grad_(True) for k, v in params.items()}
        y64 = fn(x64, **p64)
        gy = self.normal(*y64.shape)
        y64.backward(gy)
        x32 = x.float().requires_grad_(True)
        p32 = {k: v.float().requires_grad_(True) for k, v in params.items()}
        y32 = fn(x32, **p32)
        y32.backward(gy.float())
        for key, value in [('x', x), ('y', y64), ('gy', gy), ('gx', x64.grad)]:
            g[key] = f32(value)
        g['f32err/y'] = relative_error(y32, y64)
        g['f32err/gx'] = relative_error(x32.grad, x64.grad)
        for k in params:
            g[k] = f32(params[k])
            g['g' + k] = f32(p64[k].grad)
            g['f32err/g' + k] = relative_error(p32[k].grad, p64[k].grad)
        for k, v in (extra or {}).items():
            g[k] = v if isinstance(v, np.ndarray) else f32(v)
        return g


CONVOLUTIONS = {  # name: (batch, in channels, height, width, out channels, kernel, stride, padding, groups, bias)
    'conv_k3_s1_p1': (2, 3, 9, 8, 4, 3, 1, 1, 1, True),
    'conv_k3_s1_p1_wide': (2, 16, 8, 8, 8, 3, 1, 1, 1, False),
    'conv_k3_s2_p1': (2, 4, 9, 9, 6, 3, 2, 1, 1, False),
    'conv_k3_s1_p0': (1, 5, 7, 6, 3, 3, 1, 0, 1, True),
    'conv_k1_s1_p0': (3, 8, 5, 5, 5, 1, 1, 0, 1, False),
    'conv_k1_s2_p0': (2, 4, 7, 7, 8, 1, 2, 0, 1, False),
    'conv_k7_s2_p3': (1, 3, 15, 13, 4, 7, 2, 3, 1, False),
    'conv_k5_s1_p2': (2, 3, 8, 8, 4, 5, 1, 2, 1, True),
    'conv_k11_s4_p2': (1, 3, 31, 31, 4, 11, 4, 2, 1, True),
    'conv_grouped_g2': (2, 4, 6, 6, 6, 3, 1, 1, 2, True),
    'conv_depthwise': (2, 6, 7, 7, 6, 3, 2, 1, 6, False),
}

POOLS = {  # name: (op, kernel, stride, padding, input shape)
    'maxpool_k2_s2': ('max', 2, 2, 0, (2, 3, 8, 8)),
    'maxpool_k3_s2_p1': ('max', 3, 2, 1, (2, 2, 9, 9)),
    'maxpool_k3_s2': ('max', 3, 2, 0, (1, 2, 13, 13)),
    'maxpool_k2_s1': ('max', 2, 1, 0, (2, 3, 5, 5)),
    'avgpool_k2_s2': ('avg', 2, 2, 0, (2, 3, 8, 8)),
    'avgpool_k2_s1': ('avg', 2, 1, 0, (2, 3, 5, 5)),
    'avgpool_k3_s2_p1': ('avg', 3, 2, 1, (1, 2, 7, 7)),
}

ADAPTIVE = {  # name: (output size, input shape)
    'adaptive_avg_1x1': ((1, 1), (3, 4, 5, 6)),
    'adaptive_avg_6x6_from_13': ((6, 6), (1, 2, 13, 13)),
    'adaptive_avg_2x3_from_5x7': ((2, 3), (2, 2, 5, 7)),
}

ACTIVATIONS = {'relu': (F.relu, 1.0), 'relu6': (F.relu6, 4.0), 'sigmoid': (torch.sigmoid, 1.0), 'tanh': (torch.tanh, 1.0)}


def convolutions(c):
    for name, (n, cin, h, w, cout, k, s, p, groups, bias) in CONVOLUTIONS.items():
        fan_in = cin // groups * k * k
        params = {'weight': c.normal(cout, cin // groups, k, k, scale=fan_in ** -0.5)}
        if bias:
            params['bias'] = c.normal(cout, scale=0.1)
        c.add(name, lambda x, weight, bias=None, s=s, p=p, g=groups: F.conv2d(x, weight, bias, s, p, 1, g),
              c.normal(n, cin, h, w), params, dict(op='conv2d', kernel=k, stride=s, padding=p, groups=groups))


def pools(c):
    for name, (kind, k, s, p, shape) in POOLS.items():
        if kind == 'max':
            fn, attrs = (lambda x, k=k, s=s, p=p: F.max_pool2d(x, k, s, p)), dict(op='maxpool2d')
        else:
            fn = lambda x, k=k, s=s, p=p: F.avg_pool2d(x, k, s, p, count_include_pad=True)
            attrs = dict(op='avgpool2d', count_include_pad=1)
        c.add(name, fn, c.normal(*shape), {}, dict(attrs, kernel=k, stride=s, padding=p))
    for name, (out, shape) in ADAPTIVE.items():
        c.add(name, lambda x, out=out: F.adaptive_avg_pool2d(x, out), c.normal(*shape), {},
              dict(op='adaptive_avgpool2d', out_h=out[0], out_w=out[1]))


def batch_norms(c):
    """Training mode: batch statistics (biased variance) normalise, the running statistics move
    by momentum 0.1 towards the batch mean and the unbiased variance. Eval: running statistics."""
    for name, (shape, affine) in {'batchnorm2d_train': ((4, 3, 5, 5), True),
                                  'batchnorm2d_train_noaffine': ((4, 3, 5, 5), False),
                                  'batchnorm1d_train': ((8, 6), True)}.items():
        ch = shape[1]
        mean0, var0 = c.normal(ch, scale=0.1), c.normal(ch).abs() + 0.5
        after = {}

        def bn(x, weight=None, bias=None, mean0=mean0, var0=var0, after=after):
            mean, var = mean0.to(x.dtype).clone(), var0.to(x.dtype).clone()
            y = F.batch_norm(x, mean, var, weight, bias, True, 0.1, 1e-5)
            after[x.dtype] = (mean, var)
            return y

        params = {'weight': c.normal(ch, scale=0.5, shift=1.0), 'bias': c.normal(ch, scale=0.5)} if affine else {}
        g = c.add(name, bn, c.normal(*shape, scale=2.0, shift=1.0), params, dict(op='batchnorm', training=1, momentum=0.1, eps=1e-5),
                  extra={'running_mean_before': mean0, 'running_var_before': var0})
        g['running_mean_after'], g['running_var_after'] = f32(after[torch.float64][0]), f32(after[torch.float64][1])
        g['f32err/running_mean_after'] = relative_error(after[torch.float32][0], after[torch.float64][0])
        g['f32err/running_var_after'] = relative_error(after[torch.float32][1], after[torch.float64][1])
    mean, var = c.normal(3, scale=0.1), c.normal(3).abs() + 0.5
    c.add('batchnorm2d_eval', lambda x, weight, bias: F.batch_norm(x, mean.to(x.dtype), var.to(x.dtype), weight, bias, False, 0.1, 1e-5),
          c.normal(2, 3, 4, 4), {'weight': c.normal(3, scale=0.5, shift=1.0), 'bias': c.normal(3, scale=0.5)},
          dict(op='batchnorm', training=0, eps=1e-5), extra={'running_mean': mean, 'running_var': var})


def dense_and_pointwise(c):
    c.add('linear', lambda x, weight, bias: F.linear(x, weight, bias), c.normal(5, 7),
          {'weight': c.normal(4, 7, scale=7 ** -0.5), 'bias': c.normal(4, scale=0.1)}, dict(op='linear'))
    c.add('linear_nobias', lambda x, weight: F.linear(x, weight), c.normal(3, 6), {'weight': c.normal(2, 6, scale=6 ** -0.5)},
          dict(op='linear'))
    for name, (fn, scale) in ACTIVATIONS.items():
        c.add(name, fn, c.normal(2, 3, 4, 4, scale=scale), {}, dict(op=name))
    c.add('concat_channels', lambda x: torch.cat([x, x[:, :2] * 2], 1), c.normal(2, 3, 4, 4), {}, dict(op='concat'))


def cross_entropy(c):
    """Mean softmax cross-entropy over the batch; the labels are stored as int64 `labels`."""
    labels = torch.tensor([3, 0, 4, 4, 1, 2])
    for name, smoothing in {'cross_entropy': 0.0, 'cross_entropy_label_smoothing': 0.1}.items():
        c.add(name, lambda x, s=smoothing: F.cross_entropy(x, labels, label_smoothing=s).reshape(1), c.normal(6, 5, scale=3.0), {},
              dict(op='cross_entropy', label_smoothing=smoothing), extra={'labels': labels.numpy().astype(np.int64)})


def write(h5):
    c = Cases(h5)
    for part in (convolutions, pools, batch_norms, dense_and_pointwise, cross_entropy):
        part(c)
    print(f'ops.h5: {len(h5)} op cases')
