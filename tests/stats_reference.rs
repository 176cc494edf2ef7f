//! src/stats.rs against scipy: the fixture is made by `scripts/stats_reference.py`.

use poisonscan::profile::kll::Kll;
use poisonscan::stats;
use serde_json::Value;

fn fixture() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/stats_reference.json"
    ))
    .expect("fixture");
    serde_json::from_str(&text).expect("json")
}

fn f(v: &Value) -> f64 {
    v.as_f64().expect("number")
}

fn u(v: &Value) -> u64 {
    v.as_u64().expect("integer")
}

/// Relative closeness, with an absolute floor for values near zero.
fn close(got: f64, want: f64, rel: f64) -> bool {
    (got - want).abs() <= rel * want.abs().max(1e-300)
}

#[test]
fn tail_probabilities_match_scipy() {
    let fx = fixture();
    for c in fx["chi2_sf"].as_array().unwrap() {
        let got = stats::chi2_sf(f(&c["x"]), f(&c["df"]));
        assert!(close(got, f(&c["sf"]), 1e-9), "chi2 {c}: {got}");
    }
    for c in fx["normal_sf"].as_array().unwrap() {
        let got = stats::normal_sf(f(&c["z"]));
        assert!(close(got, f(&c["sf"]), 1e-9), "normal {c}: {got}");
    }
    for c in fx["binom_sf_ge"].as_array().unwrap() {
        let got = stats::binom_sf_ge(u(&c["k"]), u(&c["n"]), f(&c["p"]));
        assert!(close(got, f(&c["sf"]), 1e-9), "binom {c}: {got}");
    }
    for c in fx["kolmogorov_sf"].as_array().unwrap() {
        let got = stats::kolmogorov_sf(f(&c["lambda"]));
        assert!(close(got, f(&c["sf"]), 1e-9), "kolmogorov {c}: {got}");
    }
    for c in fx["absent_in_baseline"].as_array().unwrap() {
        let got = stats::absent_in_baseline_p(u(&c["k"]), u(&c["n_base"]), u(&c["n_cur"]));
        assert!(close(got, f(&c["p"]), 1e-9), "absent {c}: {got}");
    }
}

fn sketch(values: &Value) -> Kll {
    let mut k = Kll::new(200, 7);
    for v in values.as_array().unwrap() {
        k.update(f(v));
    }
    k
}

#[test]
fn two_sample_distances_match_scipy() {
    let fx = fixture();
    let s = &fx["two_samples"];
    let (a, b) = (sketch(&s["a"]), sketch(&s["b"]));
    let d = stats::ks_statistic(&a, &b);
    assert!(close(d, f(&s["ks_statistic"]), 1e-12), "ks {d}");
    let p = stats::ks_2samp_p(d, a.n(), b.n());
    assert!(close(p, f(&s["ks_asymptotic_p"]), 1e-9), "ks p {p}");
    let w = stats::wasserstein(&a, &b);
    assert!(close(w, f(&s["wasserstein"]), 1e-9), "wasserstein {w}");
    assert_eq!(stats::wasserstein(&a, &a), 0.0);
    // Large samples: scipy's asymptotic mode (finite-n Kolmogorov) is within 5% of the limit.
    let l = &fx["ks_large"];
    let p = stats::ks_2samp_p(f(&l["d"]), u(&l["n"]), u(&l["m"]));
    assert!(close(p, f(&l["p"]), 0.05), "ks large p {p} vs {}", l["p"]);
}

#[test]
fn count_tests_match_scipy() {
    let fx = fixture();
    let nums = |v: &Value| -> Vec<f64> { v.as_array().unwrap().iter().map(f).collect() };
    for c in fx["chi2_homogeneity"].as_array().unwrap() {
        let (stat, df, p) = stats::chi2_homogeneity(&nums(&c["a"]), &nums(&c["b"]));
        assert!(close(stat, f(&c["stat"]), 1e-9), "chi2 {c}: {stat}");
        assert_eq!(df, f(&c["df"]));
        assert!(close(p, f(&c["p"]), 1e-9), "chi2 p {c}: {p}");
    }
    for c in fx["two_proportion"].as_array().unwrap() {
        let (z, p) = stats::two_proportion_z(u(&c["x1"]), u(&c["n1"]), u(&c["x2"]), u(&c["n2"]));
        assert!(close(z * z, f(&c["chi2"]), 1e-9), "z² {c}: {}", z * z);
        assert!(close(p, f(&c["p"]), 1e-9), "p {c}: {p}");
    }
    // Clopper-Pearson while a count is at most 50; Wilson's interval and the score test past it
    // (within 2% of the exact bounds, and rejecting where its own bound excludes 1).
    for c in fx["share_ratio_bounds"].as_array().unwrap() {
        let (k, n, j, m, alpha) = (
            u(&c["k"]),
            u(&c["n"]),
            u(&c["j"]),
            u(&c["m"]),
            f(&c["alpha"]),
        );
        let (lower, upper) = stats::share_ratio_bounds(k, n, j, m, alpha);
        let exact = c["exact"].as_bool().unwrap();
        let tol = if exact { 1e-8 } else { 2e-2 };
        assert!(close(lower, f(&c["lower"]), tol), "lower {c}: {lower}");
        match c["upper"].as_f64() {
            Some(want) => assert!(close(upper, want, tol), "upper {c}: {upper}"),
            None => assert_eq!(upper, f64::INFINITY, "{c}"),
        }
        let (rise, fall) = (
            stats::share_shift_p(k, n, j, m, true),
            stats::share_shift_p(k, n, j, m, false),
        );
        if exact {
            assert!(close(rise, f(&c["p_rise"]), 1e-8), "rise {c}: {rise}");
            assert!(close(fall, f(&c["p_fall"]), 1e-8), "fall {c}: {fall}");
        }
        assert_eq!(rise <= alpha, lower > 1.0, "{c}: {rise} {lower}");
        assert_eq!(fall <= alpha, upper < 1.0, "{c}: {fall} {upper}");
    }
    let q = stats::bh_adjust(&nums(&fx["bh"]["p"]));
    for (got, want) in q.iter().zip(nums(&fx["bh"]["q"])) {
        assert!(close(*got, want, 1e-12), "bh {q:?}");
    }
}
