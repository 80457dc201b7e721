#!/usr/bin/env python3
"""PyTorch's conv2d forward+backward speed for the layers of `trainer-bench conv`.

Usage: conv_torch.py '<json>'   where <json> is {"batch": 128, "threads": 1, "reps": 10, "clock": "wall",
       "layers": [{"label": ..., "cin": 16, "cout": 16, "h": 32, "w": 32, "k": 3,
                   "stride": 1, "pad": 1, "groups": 1, "bias": true}, ...]}
Prints one JSON object {"torch": version, "layers": [{"label", "seconds", "gflops"}, ...]}.
A step is forward, then backward of a fixed upstream gradient with x.requires_grad (so the
input gradient is computed, as in the Swift layer); GFLOP/s = 6 x MACs / best step time.
"clock": "cpu" times with the thread's CPU clock (time.thread_time; 1 thread only), as the
Swift side does with --clock cpu on a machine shared with other work.
"""
import json, sys, time
import torch
import torch.nn as nn


def main():
    spec = json.loads(sys.argv[1])
    torch.set_num_threads(int(spec.get("threads", 1)))
    batch, reps = int(spec.get("batch", 128)), int(spec.get("reps", 10))
    clock = time.thread_time if spec.get("clock") == "cpu" else time.perf_counter
    torch.manual_seed(0)
    out = []
    for L in spec["layers"]:
        conv = nn.Conv2d(L["cin"], L["cout"], L["k"], L["stride"], L["pad"], groups=L.get("groups", 1),
                         bias=L.get("bias", True))
        x = torch.randn(batch, L["cin"], L["h"], L["w"], requires_grad=True)
        y = conv(x)
        gy = torch.randn_like(y)
        macs = y[0].numel() * (L["cin"] // L.get("groups", 1)) * L["k"] * L["k"]

        def step():
            x.grad = None
            conv(x).backward(gy)

        step(); step()  # warm-up: allocator, oneDNN primitive cache
        best = float("inf")
        for _ in range(reps):
            t0 = clock(); step(); best = min(best, clock() - t0)
        out.append({"label": L["label"], "seconds": best, "gflops": 6.0 * macs * batch / best / 1e9})
    print(json.dumps({"torch": torch.__version__, "layers": out}))


if __name__ == "__main__":
    main()
