"""models.h5: one group per model case, the reference ModelFixtureTests checks by state_dict name.

A group holds the initial state (`init/<key>`), three batches (`x0..2` float32 NCHW, `y0..2`
int64), and the float64 answers: train-mode `logits_train`, the `loss` attribute, every
gradient `grad/<key>` and the BN running statistics after that forward
(`state_after_forward/<key>`), the eval-mode `logits_eval`, and for each optimizer a group with
its settings as attributes, the loss of each of 3 steps (`losses`) and the final state
(`final/<key>`) with the parameters' updates, final − init (`update/<key>`).

Next to every checked tensor it records what float32 can attain there:
- `f32err/<path>`: the relative error of PyTorch's float32 run in its plain order;
- `spread/<path>`: the largest relative error among float32 runs in several equally valid
  summation orders (ORDERS: 1 or 2 threads, the batch permuted and un-permuted back,
  channels_last). A check whose answer moves with the summation order (a ReLU input within
  float32 rounding of zero) shows up here as a large spread; the cases below are chosen so
  that the spread of every logit, loss, gradient, running statistic and final state is under
  a tenth of its tolerance (the table `spread_table` prints), and the tests allow k × spread
  (k = SPREAD_FACTOR) where that exceeds the tolerance. Updates are small differences of
  float32 states, resolved to about 1e-4..5e-3: there k × spread is the limit.
"""
import numpy as np
import torch
import torch.nn.functional as F

import models as M
from common import f32, relative_error, worst_step_error

# The tolerances of DESIGN.md, per check family (the tests use the same numbers).
TOLERANCE = {'logits': 1e-4, 'loss': 1e-4, 'grad': 1e-3, 'running': 1e-4, 'losses': 1e-4, 'final': 1e-3, 'update': 1e-3}
SPREAD_FACTOR = 10   # k of the tests' rule (spreadFactor in Tests/TestSupport/Fixtures.swift); here for the table

# name: (threads, batch permuted, channels_last). The first is the plain order of f32err/.
ORDERS = {
    'plain_1t': (1, False, False),
    'plain_2t': (2, False, False),
    'permuted_1t': (1, True, False),
    'permuted_2t': (2, True, False),
    'channels_last_1t': (1, False, True),
    'channels_last_permuted_2t': (2, True, True),
}

# Settings chosen so that the checks measure the optimizer, not the conditioning of the case:
# - Adam's first steps move each weight by about lr·g/(|g| + eps). With eps far below |g| that
#   is lr·sign(g), which flips for any gradient within float32 noise of zero. eps = 1e-4, near
#   the size of the smaller gradients here, keeps the update a smooth function of g, while the
#   moments, the bias correction, where eps enters and how the decay is applied (L2 in Adam,
#   decoupled in AdamW) still decide every value.
# - SGD's lr 0.02 keeps the 3 steps descending on these small batches; at 0.05 some cases
#   diverged (losses 2 → 10), where the final state amplifies any rounding difference.
OPTIMIZERS = {
    'sgd': lambda ps: torch.optim.SGD(ps, lr=0.02, momentum=0.9, weight_decay=5e-4),
    'sgd_nesterov': lambda ps: torch.optim.SGD(ps, lr=0.02, momentum=0.9, nesterov=True, weight_decay=5e-4),
    'adam': lambda ps: torch.optim.Adam(ps, lr=1e-3, eps=1e-4),
    'adamw': lambda ps: torch.optim.AdamW(ps, lr=1e-3, eps=1e-4, weight_decay=0.05),
}


class Case:
    """A model, its per-sample input, the batch size and the seed of its state and data."""

    def __init__(self, build, sample_shape, batch, seed):
        self.build, self.sample_shape, self.batch, self.seed = build, sample_shape, batch, seed


CASES = {
    'cifar_cnn': Case(lambda: M.zoo('cifar_cnn'), (3, 16, 16), 8, 1),
    'resnet20': Case(lambda: M.zoo('resnet20'), (3, 16, 16), 8, 4),
    'resnet_bottleneck_w8': Case(lambda: M.ResNet(M.Bottleneck, [1, 2, 1, 1], [8, 16, 32, 64], 10, 'imagenet'), (3, 32, 32), 8, 4),
    'densenet_bc_40_k12': Case(lambda: M.zoo('densenet_bc_40_k12'), (3, 8, 8), 8, 2),
    'densenet_tiny_imagenet_stem': Case(lambda: M.DenseNet(8, [2, 2, 2, 2], 16, num_classes=10, stem='imagenet'), (3, 32, 32), 8, 4),
}


def initial_state(case):
    """PyTorch's default initialisation in float32, with BN affine parameters and running
    statistics drawn away from 1 and 0 (so a BN bias is not a tensor of near-zeros whose
    relative change is ill-conditioned). float32 values, held as float64."""
    torch.manual_seed(case.seed)
    model = case.build()
    gen = torch.Generator().manual_seed(case.seed + 1000)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                c = module.num_features
                sign = torch.randint(0, 2, (c,), generator=gen) * 2 - 1
                module.weight.copy_(0.5 + 0.5 * torch.rand(c, generator=gen))
                module.bias.copy_(sign * (1 + torch.rand(c, generator=gen)))
                module.running_mean.copy_(0.1 * torch.randn(c, generator=gen))
                module.running_var.copy_(0.5 + torch.rand(c, generator=gen))
    return {k: (v.double() if v.is_floating_point() else v.clone()) for k, v in model.state_dict().items()}


def batches(case):
    gen = torch.Generator().manual_seed(case.seed + 2000)
    out = []
    for _ in range(3):
        x = torch.randn(case.batch, *case.sample_shape, generator=gen).double()
        y = torch.randint(0, 10, (case.batch,), generator=gen)
        out.append((x, y))
    return out


class Runner:
    """One run of every check of a case at one dtype and summation order."""

    def __init__(self, case, state0, data, dtype, order):
        threads, self.permuted, self.channels_last = order
        torch.set_num_threads(threads)
        self.state0, self.data, self.dtype = state0, data, dtype
        self.model = case.build().to(dtype)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        gen = torch.Generator().manual_seed(7)
        self.perms = [torch.randperm(case.batch, generator=gen) for _ in data]

    def reset(self):
        self.model.load_state_dict({k: (v.to(self.dtype) if v.is_floating_point() else v) for k, v in self.state0.items()})

    def logits(self, i):
        """The model's logits on batch i, in the batch's own order whatever order it ran in."""
        x = self.data[i][0].to(self.dtype)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if not self.permuted:
            return self.model(x)
        perm = self.perms[i]
        return self.model(x[perm])[torch.argsort(perm)]

    def run(self):
        out = {}
        self.reset()
        self.model.train()
        self.model.zero_grad()
        logits = self.logits(0)
        loss = F.cross_entropy(logits, self.data[0][1])
        loss.backward()
        out['logits_train'], out['loss'] = logits.detach(), loss.detach()
        for k, p in self.model.named_parameters():
            out[f'grad/{k}'] = p.grad.detach().clone()
        for k, v in self.model.state_dict().items():
            if 'running' in k:
                out[f'state_after_forward/{k}'] = v.detach().clone()
        self.model.eval()
        with torch.no_grad():
            out['logits_eval'] = self.logits(0)
        for name, make in OPTIMIZERS.items():
            self.reset()
            self.model.train()
            opt = make(self.model.parameters())
            losses = []
            for i in range(len(self.data)):
                opt.zero_grad()
                step_loss = F.cross_entropy(self.logits(i), self.data[i][1])
                step_loss.backward()
                opt.step()
                losses.append(float(step_loss.detach()))
            out[f'{name}/losses'] = torch.tensor(losses, dtype=torch.float64)
            for k, v in self.model.state_dict().items():
                out[f'{name}/final/{k}'] = v.detach().clone() if v.is_floating_point() else v.clone()
                if k in self.state0 and v.is_floating_point() and 'running' not in k:
                    # The step's own result, final − init: a final state moves only ~1e-4..1e-2
                    # of its size in 3 steps, so a check of the state alone barely sees the update.
                    out[f'{name}/update/{k}'] = v.detach().double() - self.state0[k]
        return out


def family(path):
    """The TOLERANCE entry of a checked path."""
    if path.startswith('logits'):
        return 'logits'
    if path == 'loss':
        return 'loss'
    if path.startswith('grad/'):
        return 'grad'
    if path.startswith('state_after_forward/'):
        return 'running'
    if path.endswith('/losses'):
        return 'losses'
    return 'update' if '/update/' in path else 'final'


def error(path, got, ref):
    if path == 'loss' or path.endswith('/losses'):
        return worst_step_error(got, ref)
    return relative_error(got, ref)


def write_case(h5, name, case):
    """Writes one model group; returns {path: (f32err, spread)} of its float checks."""
    state0, data = initial_state(case), batches(case)
    ref = Runner(case, state0, data, torch.float64, (2, False, False)).run()
    runs = {order: Runner(case, state0, data, torch.float32, spec).run() for order, spec in ORDERS.items()}
    torch.set_num_threads(2)
    g = h5.create_group(name)
    g.create_group('state_after_forward')   # empty for a model without BatchNorm
    g.attrs['batch'], g.attrs['seed'] = case.batch, case.seed
    for k, v in state0.items():
        g[f'init/{k}'] = f32(v) if v.is_floating_point() else v.numpy()
    for i, (x, y) in enumerate(data):
        g[f'x{i}'], g[f'y{i}'] = f32(x), y.numpy().astype(np.int64)
    for opt_name, make in OPTIMIZERS.items():
        defaults = make([torch.zeros(1, requires_grad=True)]).defaults
        for k, v in defaults.items():
            if isinstance(v, (bool, int, float)):
                g.require_group(opt_name).attrs[k] = v
            elif isinstance(v, tuple):
                g.require_group(opt_name).attrs[k] = np.array(v, dtype=np.float64)
    checks = {}
    first = next(iter(ORDERS))
    for path, value in ref.items():
        if path == 'loss':
            g.attrs['loss'] = float(value)
        elif path.endswith('/losses'):
            g[path] = value.numpy()
        else:
            g[path] = f32(value) if value.is_floating_point() else value.numpy()
        if not value.is_floating_point():
            continue
        errors = [error(path, run[path], value) for run in runs.values()]
        checks[path] = (error(path, runs[first][path], value), max(errors))
        g[f'f32err/{path}'], g[f'spread/{path}'] = checks[path]
    return checks


def spread_table(results):
    """Per model and check family: the worst spread, its key, and how it compares with the
    tolerance (k × spread ≤ tolerance means the DESIGN.md tolerance alone decides)."""
    lines = [f'| model | family | checks | worst f32err | worst spread | at | {SPREAD_FACTOR} × spread / tolerance |',
             '| --- | --- | --- | --- | --- | --- | --- |']
    for name, checks in results.items():
        families = {}
        for path, (f32err, spread) in checks.items():
            fam = family(path) if '/' not in path or path.split('/')[0] in ('grad', 'state_after_forward') else path.split('/')[0] + ' ' + family(path)
            families.setdefault(fam, []).append((path, f32err, spread))
        for fam, rows in families.items():
            path, _, spread = max(rows, key=lambda r: r[2])
            ratio = SPREAD_FACTOR * spread / TOLERANCE[family(path)]
            lines.append(f'| {name} | {fam} | {len(rows)} | {max(r[1] for r in rows):.1e} | {spread:.1e} | {path} | {ratio:.2f} |')
    return '\n'.join(lines)


def write(h5, names=None):
    results = {}
    for name, case in CASES.items():
        if names and name not in names:
            continue
        results[name] = write_case(h5, name, case)
        worst = max(SPREAD_FACTOR * s / TOLERANCE[family(p)] for p, (_, s) in results[name].items())
        print(f'models.h5: {name}: {len(results[name])} checks, worst {SPREAD_FACTOR} × spread / tolerance = {worst:.2f}', flush=True)
    return spread_table(results)
