"""Reference values for poisonscan's statistics, from scipy.

Run once (in a scratch venv with numpy and scipy; never a dependency of the tool):

    python scripts/stats_reference.py > tests/fixtures/stats_reference.json

`tests/stats_reference.rs` checks src/stats.rs against the values written here.
"""

import json

import numpy as np
from scipy import stats

rng = np.random.default_rng(20261121)
out = {"scipy": __import__("scipy").__version__}

out["chi2_sf"] = [
    {"x": x, "df": df, "sf": float(stats.chi2.sf(x, df))}
    for x, df in [(0.5, 1), (3.84, 1), (10.0, 3), (30.0, 10), (200.0, 50), (90.0, 2), (1e3, 99)]
]
out["normal_sf"] = [
    {"z": z, "sf": float(stats.norm.sf(z))} for z in [-2.0, 0.0, 1.0, 1.96, 3.5, 8.0]
]
out["binom_sf_ge"] = [
    {"k": k, "n": n, "p": p, "sf": float(stats.binom.sf(k - 1, n, p))}
    for k, n, p in [
        (1, 10, 0.1),
        (5, 20, 0.1),
        (60, 1000, 0.05),
        (120, 10000, 0.01),
        (0, 5, 0.3),
        (300, 100000, 0.002),
    ]
]
out["kolmogorov_sf"] = [
    {"lambda": x, "sf": float(stats.kstwobign.sf(x))} for x in [0.2, 0.5, 0.8, 1.0, 1.36, 2.0, 3.0]
]

# Two small samples (≤ 200 values each, so a KLL sketch holds them exactly).
a = np.round(rng.normal(0.0, 1.0, 150), 3)
b = np.round(rng.normal(0.4, 1.3, 120), 3)
ks = stats.ks_2samp(a, b)
en = len(a) * len(b) / (len(a) + len(b))
out["two_samples"] = {
    "a": a.tolist(),
    "b": b.tolist(),
    "ks_statistic": float(ks.statistic),
    # The asymptotic p-value poisonscan uses: kstwobign at sqrt(n m / (n + m)) * D.
    "ks_asymptotic_p": float(stats.kstwobign.sf(np.sqrt(en) * ks.statistic)),
    "wasserstein": float(stats.wasserstein_distance(a, b)),
}
# Large samples: scipy's own asymptotic mode, which approaches the same limit.
c = rng.normal(0.0, 1.0, 20000)
d = rng.normal(0.03, 1.0, 20000)
ks_big = stats.ks_2samp(c, d, method="asymp")
out["ks_large"] = {"n": 20000, "m": 20000, "d": float(ks_big.statistic), "p": float(ks_big.pvalue)}

tables = [
    [[30, 50, 20], [25, 60, 15]],
    [[500, 300, 150, 50], [400, 350, 200, 50]],
    [[10, 0, 5], [8, 0, 9]],
]
out["chi2_homogeneity"] = []
for t in tables:
    arr = np.array(t)
    keep = arr.sum(axis=0) > 0
    chi2, p, dof, _ = stats.chi2_contingency(arr[:, keep], correction=False)
    out["chi2_homogeneity"].append(
        {"a": t[0], "b": t[1], "stat": float(chi2), "df": int(dof), "p": float(p)}
    )

# Two proportions: the pooled z-test is the 2x2 chi-square test without correction (z² = χ²).
out["two_proportion"] = []
for x1, n1, x2, n2 in [(30, 1000, 45, 1000), (5, 200, 0, 300), (480, 10000, 520, 10000)]:
    chi2, p, _, _ = stats.chi2_contingency([[x1, n1 - x1], [x2, n2 - x2]], correction=False)
    out["two_proportion"].append(
        {"x1": x1, "n1": n1, "x2": x2, "n2": n2, "chi2": float(chi2), "p": float(p)}
    )

ps = [0.001, 0.02, 0.03, 0.04, 0.2, 0.5, 0.011, 0.9]
out["bh"] = {"p": ps, "q": stats.false_discovery_control(ps, method="bh").tolist()}

# All k rows with values unseen in the baseline land in the current data: hypergeometric.
out["absent_in_baseline"] = [
    {"k": k, "n_base": nb, "n_cur": nc, "p": float(stats.hypergeom.pmf(k, nb + nc, nc, k))}
    for k, nb, nc in [
        (1, 100, 100),
        (3, 100, 100),
        (10, 5000, 5000),
        (40, 16000, 16000),
        (5, 1000, 30),
    ]
]
# The ratio of a class's share now to the baseline's: Clopper-Pearson bounds (each one-sided at
# 1 - alpha, so a two-sided interval at 1 - 2 alpha) on the share of the class's rows that are
# current, mapped to the ratio, and the one-sided exact p-values of a rise and of a fall.
# poisonscan takes Wilson's interval and the score test once both counts pass 50 (`exact`
# false here: tests/stats_reference.rs allows 2% there, and only checks that the p-value
# rejects where a bound excludes 1).
out["share_ratio_bounds"] = []
for k, n, j, m, alpha in [
    (0, 5000, 130, 5000, 0.005),
    (13, 5000, 130, 5200, 0.005),
    (18, 3228, 3, 3269, 0.01 / 14),
    (650, 100000, 1300, 90000, 0.01),
    (40, 1000, 0, 1000, 0.01),
    (2500, 5000, 2400, 5000, 0.01),
    (5, 50_000_000, 40, 100_000_000, 0.0025),
    (2500, 5000, 50_000_000, 100_000_000, 0.005),
    (450, 500, 18_000_000, 20_000_000, 0.005),
    (30, 20_000_000, 900, 400, 0.001),
]:
    ci = stats.binomtest(k, k + j, n / (n + m)).proportion_ci(1 - 2 * alpha, method="exact")
    rise = stats.binomtest(k, k + j, n / (n + m), alternative="greater")
    fall = stats.binomtest(k, k + j, n / (n + m), alternative="less")
    # No upper bound (no baseline row of the class) is written as null.
    lower = ci.low * m / ((1 - ci.low) * n)
    upper = None if ci.high >= 1 else ci.high * m / ((1 - ci.high) * n)
    out["share_ratio_bounds"].append(
        {
            **{"k": k, "n": n, "j": j, "m": m, "alpha": alpha},
            **{"lower": lower, "upper": upper, "exact": min(k, j) <= 50},
            **{"p_rise": float(rise.pvalue), "p_fall": float(fall.pvalue)},
        }
    )
print(json.dumps(out, indent=1))
