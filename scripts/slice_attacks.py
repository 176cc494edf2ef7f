"""Slice finding (SLC001) on UCI Adult: labels flipped (1 -> 0) in a conjunction of two or three
predicates, or rows injected into one, in the current half. Writes the table of
reports/slices.md.

    /work/venv/bin/python scripts/slice_attacks.py [SEEDS]

Each seed splits Adult in random halves (numpy default_rng(100 + seed)): one half is the
baseline, the attack goes into the other. A finding "names" the attack when at least half the
current rows its slice selects are in the attacked conjunction and it covers at least half of
the attacked rows (so a refinement or a generalisation that is mostly the slice counts); the
table gives the seeds where some SLC001 finding names it, where the first SLC001 finding does,
and the false findings (SLC001 findings that do not name it). The release binary is used.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd

B = os.path.expanduser('~/.cache/poisonscan-target/release/poisonscan')
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADULT = f'{ROOT}/datasets/real/adult.parquet'
WORK = '/tmp/slice_attacks'
SEEDS = range(int(sys.argv[1]) if len(sys.argv) > 1 else 5)

ATTACKS = [
    ('flip 1->0: education = Bachelors and sex = Female',
     lambda d: (d.education == 'Bachelors') & (d.sex == 'Female'), 'flip', 1.0),
    ('flip 1->0: occupation = Sales and marital_status = Married-civ-spouse, half',
     lambda d: (d.occupation == 'Sales') & (d.marital_status == 'Married-civ-spouse'), 'flip', 0.5),
    ('flip 1->0: workclass = Self-emp-not-inc and race = White and sex = Male',
     lambda d: (d.workclass == 'Self-emp-not-inc') & (d.race == 'White') & (d.sex == 'Male'),
     'flip', 1.0),
    ('inject 2% copies of rows with occupation = Tech-support and relationship = Husband, label 0',
     lambda d: (d.occupation == 'Tech-support') & (d.relationship == 'Husband'), 'inject', 0.02),
]


def select_rows(d, slice_):
    m = np.ones(len(d), dtype=bool)
    for p in slice_:
        c, op = p['column'], p['op']
        if c == '__source':
            continue
        x = d[c]
        if op == 'eq':
            v = p['value']
            m &= (x.astype(str) == str(v)) if not isinstance(v, (int, float)) else (x == v)
        elif op == 'is_null':
            m &= x.isna().to_numpy()
        elif op == 'lt':
            m &= (x < p['value']).to_numpy()
        elif op == 'ge':
            m &= (x >= p['value']).to_numpy()
        elif op == 'between':
            lo, hi = p.get('low'), p.get('high')
            if lo is not None:
                m &= (x >= lo).to_numpy()
            if hi is not None:
                m &= (x < hi).to_numpy()
        else:
            return None
    return m


def main():
    t = pd.read_parquet(ADULT)
    os.makedirs(WORK, exist_ok=True)
    print('attack | attacked rows | named (any) | named (first) | other SLC findings | first finding, seed 0')
    for name, mask, kind, amount in ATTACKS:
        named_any = named_first = false = 0
        first_text = ''
        attacked_rows = []
        for seed in SEEDS:
            m = np.random.default_rng(100 + seed).random(len(t)) < 0.5
            base, cur = t[m].reset_index(drop=True), t[~m].reset_index(drop=True)
            rng = np.random.default_rng(seed)
            inside = mask(cur).to_numpy()
            if kind == 'flip':
                pos = np.flatnonzero(inside & (cur.label == 1).to_numpy())
                pick = rng.choice(pos, size=round(amount * len(pos)), replace=False)
                cur.loc[pick, 'label'] = 0
                attacked = inside
                attacked_rows.append(len(pick))
            else:
                src = cur[inside]
                k = round(amount * len(cur))
                extra = src.sample(n=k, replace=True, random_state=seed).assign(label=0)
                cur = pd.concat([cur, extra], ignore_index=True)
                attacked = mask(cur).to_numpy()
                attacked_rows.append(k)
            base.to_parquet(f'{WORK}/baseline.parquet', index=False)
            cur.to_parquet(f'{WORK}/current.parquet', index=False)
            out = subprocess.run([B, 'scan', f'{WORK}/current.parquet', '--baseline',
                                  f'{WORK}/baseline.parquet', '--label', 'label', '--exclude',
                                  'split', '--fail-on', 'never', '--format', 'json', '--quiet'],
                                 capture_output=True, text=True, check=True)
            slc = [f for f in json.loads(out.stdout)['findings'] if f['code'] == 'SLC001']
            hits = []
            for f in slc:
                sel = select_rows(cur, [p for p in f['slice'] if p['column'] != 'label'])
                ok = (sel is not None and sel.sum() > 0 and (sel & attacked).sum() >= 0.5 * sel.sum()
                      and (sel & attacked).sum() >= 0.5 * attacked.sum())
                hits.append(ok)
            named_any += any(hits)
            named_first += bool(hits) and hits[0]
            false += sum(1 for h in hits if not h)
            if seed == 0 and slc:
                first_text = f"{slc[0]['severity']}: {slc[0]['title']}"
        n = len(SEEDS)
        print(f'{name} | {int(np.mean(attacked_rows))} | {named_any}/{n} | {named_first}/{n} | {false} | {first_text}',
              flush=True)


main()
