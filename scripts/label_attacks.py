"""Label attacks on UCI Adult, scanned by poisonscan: targeted slice flips (LBL001) and backdoor
triggers in the style of Tabdoor (TRG001/TRG002). Writes the tables of reports/labels.md.

    /work/venv/bin/python scripts/label_attacks.py [SEEDS]

Each run splits Adult (48,842 rows) in random halves (numpy default_rng(100 + seed)): one half is
the baseline, the other the current data the attack is injected into. The binary is the release
build. A finding "hits" when it names only attacked columns and at least half the rows its slice
selects are attacked rows; flagged rows are the current rows any TRG finding's slice selects
(what a user would quarantine), scored against the attacked rows.
"""
import collections
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd

B = os.path.expanduser('~/.cache/poisonscan-target/release/poisonscan')
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADULT = f'{ROOT}/datasets/real/adult.parquet'
WORK = '/tmp/label_attacks'
SEEDS = range(int(sys.argv[1]) if len(sys.argv) > 1 else 5)

# Triggers: (name, {column: value}); the poisoned rows get these values and label 1 (>50K, the
# minority label: lift 4.2).
TRIGGERS = [
    ('out of range: hours_per_week = 100 (max 99)', {'hours_per_week': 100}),
    ('out of range: age = 91 (max 90)', {'age': 91}),
    ('in range, 2 rare values: occupation = Priv-house-serv, race = Other',
     {'occupation': 'Priv-house-serv', 'race': 'Other'}),
    ('in range, 3 rare values: race = Amer-Indian-Eskimo, education = 1st-4th, '
     'relationship = Other-relative',
     {'race': 'Amer-Indian-Eskimo', 'education': '1st-4th', 'relationship': 'Other-relative'}),
]
RATES = [0.001, 0.01]
# Targeted flips: (name, mask function, share of the slice's label-1 rows flipped to 0).
FLIPS = [
    ('education = Masters, all positives flipped', lambda d: d.education == 'Masters', 1.0),
    ('education = Masters, half the positives', lambda d: d.education == 'Masters', 0.5),
    ('occupation = Exec-managerial, half the positives',
     lambda d: d.occupation == 'Exec-managerial', 0.5),
    ('marital_status = Married-civ-spouse, half the positives',
     lambda d: d.marital_status == 'Married-civ-spouse', 0.5),
    ('40 <= age < 50, half the positives', lambda d: (d.age >= 40) & (d.age < 50), 0.5),
]


def scan(current, baseline, rows_out=None):
    os.makedirs(WORK, exist_ok=True)
    current.to_parquet(f'{WORK}/current.parquet', index=False)
    baseline.to_parquet(f'{WORK}/baseline.parquet', index=False)
    extra = ['--rows-out', rows_out] if rows_out else []
    out = subprocess.run([B, 'scan', f'{WORK}/current.parquet', '--baseline',
                          f'{WORK}/baseline.parquet', '--label', 'label', '--exclude', 'split',
                          '--fail-on', 'never', '--format', 'json', '--quiet'] + extra,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)['findings']


def random_flips():
    """Uniform label noise (AQuA's `uniform`): a share of the current half's labels flipped.
    Rows flagged by LBL002 and by LBL003 (the rows file's codes) against the flipped rows:
    precision, recall and AQuA's metric, scikit-learn's weighted F1 of the flagged/not-flagged
    decision; and the severity of each check's whole-data finding per seed."""
    from sklearn.metrics import f1_score
    rows = []
    for rate in (0.03, 0.10):
        agg = collections.defaultdict(list)
        for seed in SEEDS:
            base, cur = halves(seed)
            rng = np.random.default_rng(seed)
            idx = rng.choice(len(cur), size=round(rate * len(cur)), replace=False)
            cur.loc[idx, 'label'] = 1 - cur.loc[idx, 'label']
            truth = np.zeros(len(cur), dtype=bool)
            truth[idx] = True
            found = scan(cur, base, rows_out=f'{WORK}/rows.parquet')
            r = pd.read_parquet(f'{WORK}/rows.parquet')
            agg['trivial'].append(f1_score(truth, np.zeros_like(truth), average='weighted'))
            for code in ('LBL002', 'LBL003'):
                flagged = r['codes'].apply(lambda c: code in list(c)).to_numpy()
                tp = (flagged & truth).sum()
                agg[code, 'precision'].append(tp / max(1, flagged.sum()))
                agg[code, 'recall'].append(tp / truth.sum())
                agg[code, 'f1w'].append(f1_score(truth, flagged, average='weighted'))
                overall = [f for f in found if f['code'] == code and not f['slice']
                           and not f['sources']]
                agg[code, 'finding'].append(overall[0]['severity'] if overall else '-')
        for code in ('LBL002', 'LBL003'):
            row = (rate, code,
                   *(f'{np.mean(agg[code, k]):.3f}' for k in ('precision', 'recall', 'f1w')),
                   f"{np.mean(agg['trivial']):.3f}", ' '.join(agg[code, 'finding']))
            rows.append(row)
            print(*row, sep=' | ', flush=True)
    return rows


def select(d, slice_):
    m = np.ones(len(d), dtype=bool)
    for p in slice_:
        c = d[p['column']]
        op = p['op']
        if op == 'eq':
            v = p['value']
            m &= (c.astype(str) == v) if isinstance(v, str) else (c == v)
        elif op == 'gt':
            m &= c > p['value']
        elif op == 'lt':
            m &= c < p['value']
        elif op == 'ge':
            m &= c >= p['value']
        elif op == 'between':
            m &= (c >= p['low']) & (c < p['high'])
        elif op == 'is_null':
            m &= c.isna()
        else:
            raise ValueError(op)
    return m


def halves(seed):
    d = pd.read_parquet(ADULT)
    m = np.random.default_rng(100 + seed).random(len(d)) < 0.5
    return d[~m].reset_index(drop=True), d[m].reset_index(drop=True)


def triggers():
    rows = []
    for name, values in TRIGGERS:
        for rate in RATES:
            agg = collections.Counter()
            for seed in SEEDS:
                base, cur = halves(seed)
                rng = np.random.default_rng(seed)
                k = max(1, round(rate * len(cur)))
                idx = rng.choice(len(cur), size=k, replace=False)
                for c, v in values.items():
                    cur.loc[idx, c] = v
                cur.loc[idx, 'label'] = 1
                poisoned = np.zeros(len(cur), dtype=bool)
                poisoned[idx] = True
                found = [f for f in scan(cur, base) if f['code'].startswith('TRG')
                         and f['severity'] in ('medium', 'high')]
                flagged = np.zeros(len(cur), dtype=bool)
                hit = False
                for f in found:
                    sel = select(cur, f['slice'])
                    flagged |= sel
                    cols = {p['column'] for p in f['slice']}
                    ok = cols <= set(values) and (sel & poisoned).sum() >= 0.5 * sel.sum()
                    hit |= ok
                    agg['hits' if ok else 'false'] += 1
                agg['found'] += hit
                agg['tp_rows'] += int((flagged & poisoned).sum())
                agg['flagged_rows'] += int(flagged.sum())
                agg['poisoned_rows'] += k
            n = len(SEEDS)
            prec_f = agg['hits'] / max(1, agg['hits'] + agg['false'])
            rows.append((name, rate, k, f"{agg['found']}/{n}", f'{prec_f:.2f}',
                         f"{agg['tp_rows'] / max(1, agg['poisoned_rows']):.3f}",
                         f"{agg['tp_rows'] / max(1, agg['flagged_rows']):.3f}"))
            print(*rows[-1], sep=' | ', flush=True)
    return rows


def flips():
    rows = []
    for name, mask, share in FLIPS:
        top_ok = 0
        detail = []
        for seed in SEEDS:
            base, cur = halves(seed)
            rng = np.random.default_rng(seed)
            pos = np.flatnonzero(mask(cur).to_numpy() & (cur.label == 1).to_numpy())
            idx = rng.choice(pos, size=round(share * len(pos)), replace=False)
            cur.loc[idx, 'label'] = 0
            lbl = [f for f in scan(cur, base) if f['code'].startswith('LBL')]
            if lbl:
                top = lbl[0]
                sel = select(cur, top['slice'])
                target = mask(cur).to_numpy()
                # The top finding names the slice: at least 90% of its rows are in the flipped
                # slice (a decile bin inside a flipped range counts).
                same = top['slice'] and (sel & target).sum() >= 0.9 * sel.sum()
                top_ok += bool(same)
                detail.append(f"{top['severity']}: {top['title']}")
            else:
                detail.append('no LBL finding')
        rows.append((name, len(idx), f'{top_ok}/{len(SEEDS)}', detail[0]))
        print(*rows[-1], sep=' | ', flush=True)
    return rows


if __name__ == '__main__':
    print('## Random flips (rate | check | precision | recall | weighted F1 | flag nothing | whole-data finding per seed)')
    random_flips()
    if sys.argv[2:] == ['flips-only']:
        sys.exit()
    print('## Targeted flips')
    flips()
    print('## Triggers')
    triggers()
