"""How many unweighted rows a label share from a label-stratified sample is worth.

TRG001 (`effective_rows` in src/detect/triggers.rs) weighs an item's baseline rows, counted in a
sample whose rows of class h stand for w_h rows each, as an unweighted count: the smaller of the
delta method's effective size and Kish's. This simulates the share's precision (p(1 - p) over
its variance) for two classes with Poisson sample counts of 3-20 rows and weights 1-10, and
prints the grid's largest ratio of that size to the simulated one, from a least count up.

    python3 scripts/effective_rows_sim.py   (numpy; a scratch venv, not a dependency)
"""

import itertools

import numpy as np


def main() -> None:
    gen = np.random.default_rng(1)
    rows: list[tuple[float, int, int, int, int]] = []
    for mt, mo, wt, wo in itertools.product(
        [3, 5, 10, 20], [3, 5, 10, 20], [1, 2, 5, 10], [1, 2, 5, 10]
    ):
        if wt == wo:
            continue
        a = gen.poisson(mt, 200_000)
        b = gen.poisson(mo, 200_000)
        total = wt * a + wo * b
        keep = total > 0
        p = wt * a[keep] / total[keep]
        simulated = p.mean() * (1 - p.mean()) / p.var()
        w_t, w_o = wt * mt, wo * mo
        r = w_t + w_o
        s_t, s_o = wt * wt * mt, wo * wo * mo
        delta = w_t * w_o * r * r / (s_t * w_o * w_o + s_o * w_t * w_t)
        kish = r * r / (s_t + s_o)
        size = min(delta, kish, mt + mo)
        rows.append((size / simulated, mt, mo, wt, wo))
    for least in (3, 5, 10, 20):
        worst = max(x[0] for x in rows if min(x[1], x[2]) >= least)
        print(f"from {least} rows a class: at most {worst:.3f} x the simulated size")


if __name__ == "__main__":
    main()
