"""Scan random halves of the same dataset against each other and count the findings of chosen
checks: on clean halves every medium or high finding is a false alarm.

    /work/venv/bin/python scripts/clean_halves.py SEEDS CODE_PREFIX...
    e.g. scripts/clean_halves.py 10 OUT001         # reports/outliers.md
         scripts/clean_halves.py 10 LBL TRG        # reports/labels.md

Halves of Adult (48,842 rows) and ACS employment MA 2015 (68,785 rows, `year` excluded: it is
one value), split by numpy's default_rng(100 + seed); the binary is the release build.
"""
import collections
import json
import os
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq

B = os.path.expanduser('~/.cache/poisonscan-target/release/poisonscan')
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = {
    'adult': (f'{ROOT}/datasets/real/adult.parquet', []),
    'acs': (f'{ROOT}/datasets/real/acs_ma_2015.parquet', ['--exclude', 'year']),
}
seeds = range(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
prefixes = tuple(sys.argv[2:]) or ('OUT001',)
counts = collections.Counter()
worst = []
for name, (path, extra) in FILES.items():
    t = pq.read_table(path)
    for s in seeds:
        m = np.random.default_rng(100 + s).random(t.num_rows) < 0.5
        d = f'/tmp/halves/{name}'
        os.makedirs(d, exist_ok=True)
        pq.write_table(t.filter(m), f'{d}/a.parquet')
        pq.write_table(t.filter(~m), f'{d}/b.parquet')
        out = subprocess.run([B, 'scan', f'{d}/a.parquet', '--baseline', f'{d}/b.parquet',
                              '--label', 'label', '--fail-on', 'never', '--format', 'json',
                              '--quiet'] + extra, capture_output=True, text=True, check=True)
        for f in json.loads(out.stdout)['findings']:
            if f['code'].startswith(prefixes):
                counts[(name, f['code'], f['severity'])] += 1
                if f['severity'] in ('high', 'medium'):
                    worst.append((name, s, f['code'], f['severity'], f['title']))
print(f'{len(seeds)} seeds, checks {prefixes}')
for k in sorted(counts):
    print(*k, counts[k])
print(*worst[:20], sep='\n')
