"""Renders the detection benchmark's results as reports/detection.md (see run.py)."""

from __future__ import annotations

import datetime
import os
import statistics
import subprocess
from collections import defaultdict
from collections.abc import Callable
from typing import Any

SMALL = (
    0.005  # rates below this are "small": the gate must be right only where the exact test says so
)


def fmt(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def median(xs: list[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return statistics.median(vals) if vals else None


def mean(xs: list[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return sum(vals) / len(vals) if vals else None


def share(xs: list[bool]) -> str:
    return f"{sum(xs)}/{len(xs)}" if xs else "-"


def required(r: dict[str, Any]) -> bool:
    """An attack case the gate must get right: rate >= 0.5%, or a smaller one whose planted rows
    are significant against the baseline (q <= 0.01)."""
    if r["family"] == "clean":
        return False
    return r["rate"] >= SMALL or significant(r)


def significant(r: dict[str, Any], field: str = "q_value") -> bool:
    """Whether the bench's own exact test of the planted rows (attacks.py's, knowing where they
    are) reaches q <= 0.01 (`q_value_tail`: its tail-aware variant; `q_value_choice`: that one
    with a slice attack's choice of slice counted too)."""
    q = r.get(field)
    return q is not None and q <= 0.01


def render(
    results: list[dict[str, Any]],
    *,
    mode: str,
    argv: list[str],
    elapsed: float,
    rates: list[float],
    seeds: int,
    max_rows: int,
) -> str:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    clean = [r for r in results if r["family"] == "clean"]
    attack = [r for r in results if r["family"] != "clean"]
    must = [r for r in attack if required(r)]
    big = [r for r in attack if r["rate"] >= SMALL]
    small_must = [r for r in must if r["rate"] < SMALL]
    lines: list[str] = []
    w = lines.append
    w(f"# Detection benchmark ({mode})")
    w("")
    w(
        f"{datetime.date.today().isoformat()}, commit {commit}, release build, "
        f"{os.cpu_count()}-core machine "
        f"(shared, noisy); {elapsed / 60:.1f} minutes in all."
    )
    w("")
    w("Command (from the repository's root):")
    w("")
    w("    cargo build --release")
    w(f"    python3 benches/detection/run.py {' '.join(argv)}".rstrip())
    w("")
    cap = f", sets above {max_rows:,} rows sampled down to that" if max_rows else ""
    w(
        f"{seeds} seed(s) a set; rates {', '.join(f'{r:.2%}' for r in rates)} of the current "
        f"rows (at least one row){cap}. What each attack does, how a case is scored and how the "
        "peers are run: `benches/detection/run.py`, `attacks.py` and `peers.py`."
    )
    w("")
    w("## Against the issue's bar")
    w("")
    gate_big = [r["gate_right"] for r in big]
    gate_small = [r["gate_right"] for r in small_must]
    named = [r["named"] for r in must]
    loud_clean = sum(r["loud"] for r in clean)
    w("| criterion | bar | measured |")
    w("|---|---|---|")
    w(
        f"| gate right on attack cases at rates ≥ 0.5% | ≥ 95% | {share(gate_big)} ({pct(gate_big)}) |"
    )
    w(
        f"| gate right on smaller cases whose exact test reaches q ≤ 0.01 | all | {share(gate_small)} |"
    )
    gm_big = [r["gate_medium_right"] for r in big]
    gm_small = [r["gate_medium_right"] for r in small_must]
    w(
        f"| the same two at `--fail-on medium` | ≥ 95%, all | {share(gm_big)} ({pct(gm_big)}), "
        f"{share(gm_small)} |"
    )
    w(
        f"| clean pairs with a medium or high finding | none | {sum(r['loud'] > 0 for r in clean)} of {len(clean)} ({loud_clean} findings) |"
    )
    w(
        f"| clean pairs passing the gate (at `--fail-on high`, at `medium`) | all | "
        f"{share([r['gate_right'] for r in clean])}, {share([r['gate_medium_right'] for r in clean])} |"
    )
    w(
        f"| a medium/high finding among the first five names the attack (cases above) | ≥ 90% | {share(named)} ({pct(named)}) |"
    )
    w("")
    sig = [r["gate_right"] for r in big if significant(r)]
    sig_medium = [r["gate_medium_right"] for r in big if significant(r)]
    faint = [r["gate_right"] for r in big if not significant(r)]
    w(
        "Not part of the bar, to read it by: of the attack cases at rates ≥ 0.5%, those whose "
        "exact test of the planted rows reaches q ≤ 0.01 and those where it does not. That test "
        "is the bench's oracle: one statistic per attack (attacks.py names it), told where the "
        "planted rows, column and slice are, Benjamini-Hochberg across the run's attack cases; "
        "not the strongest test there could be. A scan is told none of that and must test every "
        "column and slice, so a case the oracle cannot tell from chance is one it is unlikely "
        "to gate without also failing clean data."
    )
    w("")
    w("| attack cases at ≥ 0.5% | cases | gate right | at `--fail-on medium` |")
    w("|---|---|---|---|")
    w(f"| exact test q ≤ 0.01 | {len(sig)} | {share(sig)} ({pct(sig)}) | {share(sig_medium)} |")
    w(f"| exact test q > 0.01 | {len(faint)} | {share(faint)} ({pct(faint)}) | - |")
    tail = [r for r in big if significant(r, "q_value_tail")]
    # The third oracle's cases at any rate (results written before it have no q for it).
    chosen = [r for r in attack if significant(r, "q_value_choice")]
    chosen_big = [r for r in chosen if r["rate"] >= SMALL]
    for title, rows in (
        ("tail-aware exact test q ≤ 0.01", tail),
        ("tail- and choice-aware exact test q ≤ 0.01", chosen_big),
    ):
        if rows:
            right = [r["gate_right"] for r in rows]
            w(
                f"| {title} | {len(rows)} | {share(right)} ({pct(right)}) | "
                f"{share([r['gate_medium_right'] for r in rows])} |"
            )
    if tail:
        w("")
        w(
            "The tail-aware test is the first one except for `trigger_out_of_range`, whose rows "
            "past a feature's maximum are tested against the larger of the label's share and its "
            "share among the baseline's own largest values of that feature (its top 1%, at least "
            "20 rows, add-one smoothed; attacks.py's `tail_share`): where the data's tail already "
            "carries the label (the oldest people not employed, anomalies at the extremes), rows "
            "past the range that carry it are no evidence of a trigger. It is not the bar's."
        )
    if chosen:
        chosen_small = [r for r in chosen if r["rate"] < SMALL]
        right = [r["gate_right"] for r in chosen_big]
        medium = [r["gate_medium_right"] for r in chosen_big]
        named_chosen = [r["named"] for r in chosen]
        w("")
        w(
            "The tail- and choice-aware test is the tail-aware one, except that the tests of "
            "`targeted_flip`, `segment_shift` and `slice_feature_shift` are also multiplied by the "
            "number of choices the attack drew from (the slices `pick_slice` picks among, each a "
            "column and a value; for the feature shift times the numeric columns it could shift; "
            "attacks.py's `slice_choices`). The trigger families' tests are multiplied by their "
            "choice of columns (not of the values stamped), so this is the stricter of the two. "
            "It asks what a search over the attack's own choices could find, not told which one "
            "it made (a Bonferroni bound: the slices overlap); a scan searches far more. It is "
            "not the bar's either. Read by it, the bar would stand at: gate right on "
            f"{share(right)} ({pct(right)}) of the cases at ≥ 0.5% it finds significant and "
            f"{share(medium)} ({pct(medium)}) at `--fail-on medium`; "
            + (
                f"{share([r['gate_right'] for r in chosen_small])} of the smaller cases it finds "
                f"significant ({share([r['gate_medium_right'] for r in chosen_small])} at medium)"
                if chosen_small
                else "no smaller case it finds significant"
            )
            + "; a medium or high finding among the first five names the attack in "
            f"{share(named_chosen)} ({pct(named_chosen)}) of all the cases it finds significant."
        )
    w("")
    w("## Per attack and rate")
    w("")
    w(
        "gate: cases failing the default gate, `--fail-on high` (right for an attack), · the "
        "same at `--fail-on medium`; must: of the cases the gate must get right (rate ≥ 0.5%, or "
        "q ≤ 0.01), those the default gate got right · those the medium gate got right; named: a medium/high finding among "
        "the first five names the planted column, slice, source or rows; AUROC and P@k: poisonscan's "
        "rows file (medians); IF: IsolationForest's row AUROC (median); cleanlab and poisonscan's "
        "LBL002/LBL003 row flags: precision/recall on changed labels (means); Evidently: cases "
        "it calls dataset drift."
    )
    w("")
    w(
        "| attack | rate | cases | rows (median) | gate | must | named | AUROC | P@k | IF AUROC | LBL P/R | cleanlab P/R | Evidently |"
    )
    w("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    groups: dict[tuple[str, float | None], list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        groups[(r["family"], r["rate"])].append(r)
    for (family, rate), rs in sorted(
        groups.items(), key=lambda kv: (order(kv[0][0]), kv[0][1] or 0)
    ):
        m = [r for r in rs if required(r)]
        ev = [r["evidently_drift"] for r in rs if r.get("evidently_drift") is not None]
        w(
            f"| {family} | {'-' if rate is None else f'{rate:.2%}'} | {len(rs)} | "
            f"{int(median([r['k'] for r in rs]) or 0) if family != 'clean' else '-'} | "
            f"{sum(r['verdict'] in ('fail', 'error') for r in rs)} · "
            f"{sum(r['verdict_medium'] in ('fail', 'error') for r in rs)} | "
            f"{share([r['gate_right'] for r in m])} · {share([r['gate_medium_right'] for r in m])} | "
            f"{share([r['named'] for r in rs]) if family != 'clean' else '-'} | "
            f"{fmt(median([r.get('auroc') for r in rs]))} | {fmt(median([r.get('p_at_k') for r in rs]))} | "
            f"{fmt(median([r.get('if_auroc') for r in rs]))} | "
            f"{fmt(mean([r.get('lbl_precision') for r in rs]))}/{fmt(mean([r.get('lbl_recall') for r in rs]))} | "
            f"{fmt(mean([r.get('cleanlab_precision') for r in rs]))}/{fmt(mean([r.get('cleanlab_recall') for r in rs]))} | "
            f"{share(ev)} |"
        )
    w("")
    w("## Why the families that fall short do")
    w("")
    w(
        "A family is listed when the default gate is right on fewer than 95% of its cases at "
        "rates of 0.5% and above, or misses a small case whose exact test is significant; the "
        "text says which signal is missing (the analysis of these runs, not a measurement)."
    )
    w("")
    for family in FAMILY_ORDER:
        rs = [r for r in must if r["family"] == family]
        if not rs:
            continue
        big_rs = [r["gate_right"] for r in rs if r["rate"] >= SMALL]
        small_rs = [r["gate_right"] for r in rs if r["rate"] < SMALL]
        short = (big_rs and sum(big_rs) < 0.95 * len(big_rs)) or not all(small_rs)
        big_sig = [r["gate_right"] for r in rs if r["rate"] >= SMALL and significant(r)]
        if short:
            w(
                f"- **{family}** (gate right on {share(big_rs)} at ≥ 0.5%, {share(big_sig)} of "
                "those whose exact test reaches q ≤ 0.01, "
                f"{share(small_rs) + ' of the' if small_rs else 'no'} smaller cases it must catch): "
                f"{WHY.get(family, 'not analysed yet: see the cases listed below.')}"
            )
    w("")
    w("## Where a peer does better")
    w("")
    losses = peer_losses(groups)
    if losses:
        lines.extend(f"- {x}" for x in losses)
    else:
        w("- nowhere on these cases.")
    w("")
    missed = [r for r in must if not r["gate_right"]]
    case_list(w, "## Cases the gate must get right and did not (at `--fail-on high`)", missed, 3)
    unnamed = [r for r in must if not r["named"]]
    title = "## Attack cases where no medium/high finding among the first five names the attack"
    case_list(w, title, unnamed, 2)
    w("## Clean pairs")
    w("")
    for r in clean:
        if r["loud"]:
            w(f"- {r['set']} seed {r['seed']}: {'; '.join(r['top'])}")
    if not any(r["loud"] for r in clean):
        w(f"No medium or high finding on any of the {len(clean)} clean pairs.")
    w("")
    w("## Per set")
    w("")
    w("| set | rows | attack cases | gate right (must) | named (must) | scan seconds (median) |")
    w("|---|---|---|---|---|---|")
    by_set: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        by_set[r["set"]].append(r)
    for name, rs in by_set.items():
        m = [r for r in rs if required(r)]
        w(
            f"| {name} | {rs[0]['rows']:,} | {sum(r['family'] != 'clean' for r in rs)} | "
            f"{share([r['gate_right'] for r in m])} | {share([r['named'] for r in m])} | "
            f"{fmt(median([r['seconds'] for r in rs]), 1)} |"
        )
    w("")
    return "\n".join(lines)


def case_list(w: Callable[[str], None], title: str, rows: list[dict[str, Any]], top: int) -> None:
    """A section listing cases: set, seed, attack, rate, rows, q and the first findings."""
    w(title)
    w("")
    if not rows:
        w("None.")
    for r in rows:
        q = r.get("q_value")
        # The tail-aware test's q where it is another test (a past-range trigger), and the
        # choice-aware one's (a slice the attack picked).
        qt = r.get("q_value_tail") if r.get("p_value_tail") is not None else None
        qc = r.get("q_value_choice") if r.get("p_value_choice") is not None else None
        w(
            f"- {r['set']} seed {r['seed']}, {r['family']} at {r['rate']:.2%} ({r['k']} rows; "
            f"{r['detail']}; q = {fmt(q, 3) if q is not None else '-'}"
            f"{f', tail-aware q = {fmt(qt, 3)}' if qt is not None else ''}"
            f"{f', choice-aware q = {fmt(qc, 3)}' if qc is not None else ''}): "
            f"{'; '.join(r['top'][:top]) or r.get('error', 'no finding')}"
        )
    w("")


def pct(xs: list[bool]) -> str:
    return f"{100 * sum(xs) / len(xs):.0f}%" if xs else "-"


# What each family's missing signal is, where the gate falls short on it.
WHY = {
    "random_flip": (
        "LBL002 and LBL003 flag the flipped rows (the rows file ranks them high, as the AUROC "
        "and LBL P/R columns show, close to cleanlab). The whole data's flagged rate is tested "
        "against the baseline's with both sides' uncertainty, and its severity follows the "
        "excess too: the lower 99% bound of the extra share of flagged rows, 0.25/0.5/1% of the "
        "rows for low/medium/high, besides the ratio to the baseline's rate (x4 for high). 100 "
        "flipped rows in 5,000, most of them caught, reach 1% at that confidence only where the "
        "baseline's own rate is low (cover, mammography, thyroid: high); where it is 5-15% "
        "(Adult, spambase, wine) they reach medium, on ACS low. 25 rows (0.5%) stay inside the "
        "baseline's own noise for any rate test."
    ),
    "one_way_flip": (
        "as random flips, and the label drift it causes is a fraction of a point (DRF003 stays "
        "quiet by design); rows of the rarest class relabelled as the commonest look like the "
        "commonest class's own noise to the neighbours, so LBL002/LBL003 recall is lower too, "
        "and the whole data's excess reaches low at best (Adult: 0.4% of the rows). LBL003 also "
        "tests each class against the baseline's rows of that class, where a one-way flip "
        "shows best (ACS: 7.2% of the rows labelled 1 against 3.9%); with 16-65 moved rows "
        "(0.5-2%) into a class of thousands, most of them caught by neither check, the excess "
        "stays under 1% of that class's rows on the other sets. kNN's flags are not tested per "
        "class: rows that share neighbours are flagged together, and a per-class binomial test "
        "raised false highs on clean pairs (Cardio's class 1, wine's grade 4)."
    ),
    "targeted_flip": (
        "at 0.5% the flipped rows are a few percent of a slice that holds 5-30% of the rows. "
        "LBL001 tests every slice of every column, so a share move the exact test finds in the "
        "one planted slice is lost among the others (ACS's SCHL = 19: 25 flipped rows in 532, "
        "beside a natural move as large, p about 3e-4 before the adjustment, q about 0.05 after "
        "it); LBL002/LBL003's per-slice rate tests need the slice's flagged rate to double. At "
        "2% LBL001 grades a slice also by the rows whose label moved (their 99% lower bound as "
        "a share of the data: 0.25/0.5/1%): ACS's NATIVITY = 2, 100 flips in 764 rows, Cohen's "
        "h 0.24, is medium, its bound 0.96% of the rows. Adult's occupation = Prof-specialty at "
        "2% (seed 1): label 1 on 47% of the slice before, 59% of its 655 rows now, h 0.23 "
        "against the share the column's typical move predicts (z 3.7, q 0.008), is medium: the "
        "99% lower bound of the rows whose label moved is 27, 0.55% of the rows, under the 1% "
        "of a high; Adult's education = Bachelors (seed 2) likewise. Wine's color = red -> 9 "
        "at 0.5% (every seed): 16 of 800 red wines "
        "of grade 9, none of 799 before; Fisher's one-sided test in that one slice gives "
        "1.4e-5, but a column of two slices takes the whole data's move as typical, and grade "
        "9's odds rose 5.4x because of the attack itself (z 3.2); even the exact p times the "
        "812 slice-and-class tests is above 0.01."
    ),
    "segment_shift": (
        "a target raised by half a baseline standard deviation on a few percent of a segment "
        "moves no target bin's share enough for LBL001, and a half-sd residual is below "
        "LBL002/LBL003's 4-spread flag (California, and wine's grade read as a number in the full "
        "mode)."
    ),
    "trigger_out_of_range": (
        "TRG001 tests a rule on one exact value past the range, on any number of rows from 3 "
        "and from 0.8 confidence, by the exact chance that fresh rows carry its label so often, "
        "Bonferroni over such rules, high at 1e-4; one or two rows are never enough, three rows "
        "of a label with a 5% share (California's top-5% bin) reach medium only, ten rows of "
        "spambase's label 1 (40% of the rows) medium, and a label that is common among the "
        "baseline's own extremes (mammography's anomalies, ACS's oldest, who are not employed, "
        "California's top-coded incomes) is no new pattern."
    ),
    "trigger_in_range": (
        "TRG001's ratio test needs 10 rows and a confidence of 0.95 on a rule of values inside "
        "the range, and an exact value is an item only when its share grew (on more than 10 "
        "rows), its share of one label's rows grew threefold, or it sits beside one that did; "
        "below that a combination of existing values carries no other signal. Under 10 rows "
        "(thyroid's 9 at 0.5%), or under 0.95, a pair or triple new for its label is judged on "
        "its purity: its rows, counted as distinct records, against the label's baseline share, "
        "Bonferroni over every in-range itemset mined times the labels (thyroid seeds 1 and 3: "
        "high). The risk that kept that test out before remains in part: a natural cluster of "
        "one label whose rows all fell on the current side (0.5^9, about 0.002, for 9 distinct "
        "rows of a random split) looks the same. The test of each item against its other rows "
        "and the new-for-label condition kept such clusters out on the 400 clean splits and the "
        "clean pairs here, and copies of one record count once (wine seed 0's clean pair, 8 "
        "copies of one record, raised a high before that). Where a value of the pair has few "
        "other rows that test has little power (thyroid seed 4's clean-label pair: p about "
        "10^-4 against a value on 10 other rows)."
    ),
    "clean_label_trigger": (
        "the labels are untouched, so the label checks see nothing; the rule's rows already "
        "carry the target label, so TRG001 must see the combination's share of that label rise. "
        "The stamped values are common ones. Besides values whose share of all the rows grew and "
        "those beside them, an exact value is an item when its share of one label's rows rose "
        "threefold in the two label-stratified samples (Fisher's one-sided p <= 0.001): wine's "
        "pair at 0.5%, seed 0, grew by a third overall (volatile_acidity = 0.21 on 121 rows "
        "against 91, chlorides = 0.031 on 63 against 60) but among grade 8's rows from 2 to 20 "
        "and from 3 to 17, and the pair, on 17 rows (16 of grade 8) against 1, is now high. "
        "Where the rule holds under 10 rows (thyroid's 9 at 0.5%) it is judged on its purity, as "
        "an in-range trigger is (seeds 1 and 2). A rare exact value pairs with a category of any "
        "share: wine's seed 3 stamps `color` = `red` (a quarter of the rows, too common for a rule "
        "of rare items) and residual_sugar = 13 on 16 rows of grade 8, and the pair is now high. "
        "A rule new for a rare label whose purity is beyond chance is high even below the lowest "
        "ratio tier: wine's seed 4 pair, 17 of 18 rows of grade 4 against 1 of the grade's 90 "
        "baseline rows, was 1.8 times the upper bound of that share (7.6%) and went unreported. "
        "Where "
        "the values are common in the other classes too (mammography at 0.5%, seed 3: f04 = -0.3779 on "
        "77% of the rows, f01 = -0.4525 on 5%; the pair on 252 rows now, 26 of them anomalies, "
        "against 236 and 1 before), the pair implies the label on a tenth of its rows, which a "
        "model cannot learn as a trigger, and TRG001 does not report it; the oracle's test of "
        "the label's rows alone finds the rise. A rule diluted by natural rows of its values "
        "is judged by its rows beyond the baseline's rate of the rule (>= 0.95 of them with the "
        "label), but a candidate must first be mined: on California's pair at 0.5% the 37 rows "
        "(25 planted, 12 natural) hold 29 of the top quarter, 0.78, under the sample's 0.8. What "
        "moved there is the combination's target distribution against the same combination in "
        "the baseline, which LBL001 tests on single predicates only. California's seed 2 pair "
        "(`NEAR BAY` with latitude = 33.61, 25 rows of the top quarter, none before) is mined "
        "now, but latitude 33.61 alone carries the top quarter on 2 of its 4 other rows (coastal "
        "Orange County), and the pair's test against them is p = 0.015 (25 of 25 against 2 of "
        "4): a value that nearly implies the label alone is how natural data looks."
    ),
    "fabricated": (
        "every value is plausible and only the combination is off; the outlier score ranks the "
        "rows little above chance (the AUROC column; IsolationForest does no better), so OUT001 "
        "sees almost no excess. OUT002 ranks each row's Mahalanobis distance from the "
        "baseline's joint distribution and tests a file's ranks against the baseline's and the "
        "other files': it finds the file from 3-5 rows where the columns are strongly tied "
        "(California, cover), and from 16-25 on most sets. Where it misses: spambase's 10 rows, "
        "heavy-tailed word counts whose rows are only about 0.7 likely to be the farther (p near "
        "0.01 before the adjustment), and one or two rows, which no file test can judge."
    ),
    "duplicates": (
        "a file made of copies is high (DUP001) however small; copies spread over existing "
        "files must still move the duplicate rate by 5 points for high, and three copies of "
        "one row (0.05%) are not a file of copies where fresh rows repeat often."
    ),
    "slice_feature_shift": (
        "DRF001 tests whole columns and DRF004 whole files: a one-sd shift on 0.5-2% of the rows, "
        "inside one slice, moves a column's PSI by under 0.05. A drift test per slice does not "
        "find it either: `benches/detection/slice_drift_probe.py` tests every slice of every "
        "column (categories, decile bins) on every numeric column, the slice now against the "
        "same slice in the baseline and against the rest's move (Mann-Whitney), BH across the "
        "92-8,050 tests a set has. On these cases its best q is 0.056 (mammography at 2%, the "
        "planted pair), then 0.65 (thyroid at 2%, the planted pair); on the others the planted "
        "pair is not among the three smallest, and the clean pairs' best q is 0.56-1. The "
        "shifted rows are 10-20% of their slice (ACS: 100 of about 1,000; mammography: 100 of "
        "about 500), which moves the slice's A by a few hundredths: 5 of the 18 cases at ≥ 0.5% "
        "reach q ≤ 0.01 on the oracle's one test, none among hundreds of slices and columns."
    ),
    "outlier_block": (
        "OUT001 judges a file from 3 flagged rows, but the planted rows must be flagged: on "
        "spambase, whose features are heavy-tailed word counts with an IQR of 0, values 4-8 "
        "IQRs (or standard deviations) out lie mostly inside the baseline's own tail, and the "
        "outlier score ranks them at a row AUROC of about 0.8, short of flagging them; OUT002's "
        "joint ranks of the file's rows find it there. One to three rows are too few for either."
    ),
    "replay": (
        "INT002 judges a file under 20 rows by an exact test, P <= 1e-4 over all files and row "
        "groups, against the rate at which the rest of the current data matches the baseline: "
        "one replayed row never reaches it, and three rows do not where fresh rows already "
        "match the baseline 3% of the time (ACS, which has many natural repeats)."
    ),
}

FAMILY_ORDER = [
    "clean",
    "random_flip",
    "one_way_flip",
    "targeted_flip",
    "segment_shift",
    "trigger_out_of_range",
    "trigger_in_range",
    "clean_label_trigger",
    "fabricated",
    "duplicates",
    "slice_feature_shift",
    "outlier_block",
    "schema_tamper",
    "replay",
    "baseline_altered",
]


def order(family: str) -> int:
    return FAMILY_ORDER.index(family) if family in FAMILY_ORDER else len(FAMILY_ORDER)


def peer_losses(groups: dict[tuple[str, float | None], list[dict[str, Any]]]) -> list[str]:
    out = []
    for (family, rate), rs in sorted(
        groups.items(), key=lambda kv: (order(kv[0][0]), kv[0][1] or 0)
    ):
        if family == "clean":
            ev_false = [r for r in rs if r.get("evidently_drift")]
            if ev_false:
                out.append(
                    f"(for the record) Evidently calls {len(ev_false)} of {len(rs)} clean pairs dataset drift."
                )
            continue
        ours, theirs = median([r.get("auroc") for r in rs]), median([r.get("if_auroc") for r in rs])
        if ours is not None and theirs is not None and theirs > ours + 0.02:
            out.append(
                f"{family} at {rate:.2%}: IsolationForest ranks the planted rows better "
                f"(row AUROC {theirs:.2f} against poisonscan's {ours:.2f})."
            )
        cl_r, cl_p = (
            mean([r.get("cleanlab_recall") for r in rs]),
            mean([r.get("cleanlab_precision") for r in rs]),
        )
        our_r, our_p = (
            mean([r.get("lbl_recall") for r in rs]),
            mean([r.get("lbl_precision") for r in rs]),
        )
        if (
            cl_r is not None
            and our_r is not None
            and cl_r > our_r + 0.05
            and (cl_p or 0) >= (our_p or 0) - 0.05
        ):
            out.append(
                f"{family} at {rate:.2%}: cleanlab finds more of the changed labels "
                f"(recall {cl_r:.2f}, precision {fmt(cl_p)}) than LBL002/LBL003 "
                f"(recall {our_r:.2f}, precision {fmt(our_p)})."
            )
        ev_right = [r for r in rs if r.get("evidently_drift") and not r["gate_right"]]
        if ev_right:
            out.append(
                f"{family} at {rate:.2%}: Evidently calls dataset drift on {len(ev_right)} "
                f"case(s) where poisonscan's gate passed."
            )
    return out
