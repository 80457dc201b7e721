#!/usr/bin/env python3
"""PyTorch's training throughput for the models of `trainer-bench models`.

Usage: models_torch.py '{"batch": 128, "threads": 1, "steps": 5, "clock": "wall", "models": [...]}'
Prints one JSON object {"torch": version, "models": {name: img/s}}. The models are the project's
reference definitions, Tests/Reference/models.py (the fixtures' ground truth); a step is forward,
cross-entropy, backward and an SGD-momentum update, as on the Swift side; img/s = batch /
median step time after one warm-up step.
"""
import json, os, statistics, sys, time
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "Tests", "Reference"))
import models as M

NAMES = ["cifar_cnn", "resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "resnet18_cifar_stem",
         "densenet_bc_40_k12", "densenet_bc_100_k12"]
BUILD = {name: (lambda name=name: M.zoo(name)) for name in NAMES}


def main():
    spec = json.loads(sys.argv[1])
    torch.set_num_threads(int(spec.get("threads", 1)))
    batch, steps = int(spec.get("batch", 128)), int(spec.get("steps", 5))
    clock = time.thread_time if spec.get("clock") == "cpu" else time.perf_counter
    torch.manual_seed(0)
    out = {}
    for name in spec["models"]:
        if name not in BUILD:
            continue
        m = BUILD[name]().train()
        opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
        x = torch.randn(batch, 3, 32, 32)
        y = torch.randint(0, 10, (batch,))

        def step():
            opt.zero_grad()
            F.cross_entropy(m(x), y).backward()
            opt.step()

        step()
        times = []
        for _ in range(steps):
            t0 = clock(); step(); times.append(clock() - t0)
        out[name] = batch / statistics.median(times)
    print(json.dumps({"torch": torch.__version__, "models": out}))


if __name__ == "__main__":
    main()
