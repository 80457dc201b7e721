#!/usr/bin/env python3
"""Writes the PyTorch reference fixtures the Swift tests compare against (needs torch, h5py, numpy).

    python3 Tests/Reference/make_fixtures.py                 # into .fixtures/ (the tests' default)
    python3 Tests/Reference/make_fixtures.py --ensure        # only when missing or stale (Launch/test)
    python3 Tests/Reference/make_fixtures.py --out DIR       # elsewhere (point TRAINER_FIXTURES at it)
    python3 Tests/Reference/make_fixtures.py --key           # print the cache key

Writes ops.h5 (op_cases.py), models.h5 (model_cases.py), catalog.json (catalog.py) and
spread.md (the spread table of the model cases), then `key`: the SHA-256 of every .py file in
this folder and the torch version. `--ensure` regenerates when `key` differs, so editing the
reference or upgrading torch refreshes the fixtures. Output is deterministic (fixed seeds); the
files are written beside the target and renamed into place, so readers never see half a set.
"""
import argparse
import glob
import hashlib
import json
import os
import shutil
import sys
import time

# OpenMP threads that spin while waiting make the 2-thread orders crawl on a busy machine.
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
DEFAULT_OUT = os.path.join(HERE, '..', '..', '.fixtures')
FILES = ('ops.h5', 'models.h5', 'catalog.json', 'spread.md')


def cache_key():
    import torch
    h = hashlib.sha256()
    for path in sorted(glob.glob(os.path.join(HERE, '*.py'))):
        h.update(os.path.basename(path).encode() + b'\0')
        with open(path, 'rb') as f:
            h.update(f.read())
    return f'{h.hexdigest()} torch-{torch.__version__}'


def up_to_date(out, key):
    try:
        with open(os.path.join(out, 'key')) as f:
            stored = f.read().strip()
    except OSError:
        return False
    return stored == key and all(os.path.exists(os.path.join(out, name)) for name in FILES)


def generate(out, key):
    import h5py
    import torch
    import catalog
    import model_cases
    import op_cases
    torch.use_deterministic_algorithms(True)
    staging = f'{out}.tmp-{os.getpid()}'
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    start = time.time()
    with h5py.File(os.path.join(staging, 'ops.h5'), 'w') as h5:
        op_cases.write(h5)
    with h5py.File(os.path.join(staging, 'models.h5'), 'w') as h5:
        table = model_cases.write(h5)
    with open(os.path.join(staging, 'spread.md'), 'w') as f:
        f.write(table + '\n')
    with open(os.path.join(staging, 'catalog.json'), 'w') as f:
        json.dump(catalog.build(), f, indent=1, sort_keys=True)
    with open(os.path.join(staging, 'key'), 'w') as f:
        f.write(key + '\n')
    # Swap in the new set: readers see the old folder or the new one, never a mixture.
    old = f'{out}.old-{os.getpid()}'
    if os.path.exists(out):
        os.rename(out, old)
    os.rename(staging, out)
    shutil.rmtree(old, ignore_errors=True)
    print(table)
    print(f'fixtures written to {os.path.abspath(out)} in {time.time() - start:.0f} s')


def main():
    p = argparse.ArgumentParser(description='Write the PyTorch reference fixtures.')
    p.add_argument('--out', default=DEFAULT_OUT, help='folder to write (default: .fixtures/ at the repository root)')
    p.add_argument('--ensure', action='store_true', help='write only when missing or made by another generator or torch')
    p.add_argument('--key', action='store_true', help='print the cache key and exit')
    a = p.parse_args()
    key = cache_key()
    if a.key:
        print(key)
        return
    out = os.path.abspath(a.out)
    if a.ensure and up_to_date(out, key):
        print(f'fixtures in {out} are up to date ({key[:12]}…, {key.split()[-1]})')
        return
    generate(out, key)


if __name__ == '__main__':
    main()
