//! Validation against queueing theory: M/M/c against Erlang C and M/D/1 against
//! Pollaczek–Khinchine. Sized for release mode (a few million requests per case).
//!
//! Acceptance: the simulated mean queue wait agrees with theory within max(3%, 3 × its
//! batch-means standard error), and the run is long enough that 3 × the standard error is at
//! most 3% (so the bound is 3%).

use sim_core::{parse_scenario, run, Inputs, Summary};

/// Erlang C: probability that an arrival waits in an M/M/c queue with offered load `a = λ/μ`.
fn erlang_c(c: u32, a: f64) -> f64 {
    let mut term = 1.0; // a^k / k!
    let mut sum = 0.0;
    for k in 0..c {
        if k > 0 {
            term *= a / k as f64;
        }
        sum += term;
    }
    let top = term * a / c as f64 * (c as f64 / (c as f64 - a));
    top / (sum + top)
}

/// Mean wait in queue of M/M/c.
fn mmc_wq(c: u32, lambda: f64, mu: f64) -> f64 {
    erlang_c(c, lambda / mu) / (c as f64 * mu - lambda)
}

/// Mean wait in queue of M/D/1 (Pollaczek–Khinchine with zero service variance).
fn md1_wq(lambda: f64, mu: f64) -> f64 {
    let rho = lambda / mu;
    rho / (2.0 * mu * (1.0 - rho))
}

fn simulate(distribution: &str, replicas: u32, rate: f64, horizon_s: u64, seed: u64) -> Summary {
    simulate_with(
        distribution,
        replicas,
        "dispatch = \"shared\"",
        rate,
        horizon_s,
        seed,
    )
}

fn simulate_with(
    distribution: &str,
    replicas: u32,
    dispatch: &str,
    rate: f64,
    horizon_s: u64,
    seed: u64,
) -> Summary {
    let text = format!(
        r#"
[simulation]
seed = {seed}
horizon = "{horizon_s}s"
warmup = "{warmup}s"
sample_interval = "1h"

[service]
replicas = {replicas}
{dispatch}

[service.service_time]
distribution = "{distribution}"
base = "10ms"

[traffic]
kind = "poisson"
rate = {rate:.6}
"#,
        warmup = horizon_s / 50
    );
    let s = parse_scenario(&text, "validation.toml").expect("valid scenario");
    let r = run(&s, Inputs::default()).expect("runs");
    let c = &r.summary.requests;
    assert_eq!(
        c.arrived,
        c.completed + c.dropped + c.in_flight,
        "conservation"
    );
    assert_eq!(c.dropped, 0);
    r.summary
}

fn check(name: &str, summary: &Summary, theory: f64) {
    let wq = summary.queue_wait_s.mean.expect("some requests completed");
    let se = summary.queue_wait_s.mean_stderr.expect("enough batches");
    let rel_err = (wq - theory).abs() / theory;
    let rel_se = se / theory;
    println!(
        "{name}: simulated Wq {:.4} ms, theory {:.4} ms, error {:.2}%, 3·s.e. {:.2}%, requests {}",
        wq * 1e3,
        theory * 1e3,
        rel_err * 100.0,
        3.0 * rel_se * 100.0,
        summary.measured.completed
    );
    assert!(
        3.0 * rel_se <= 0.03,
        "{name}: run too short: 3·s.e. = {:.2}%",
        300.0 * rel_se
    );
    let bound = (0.03f64).max(3.0 * rel_se);
    assert!(
        rel_err <= bound,
        "{name}: |Wq − theory| / theory = {:.2}% > {:.2}%",
        rel_err * 100.0,
        bound * 100.0
    );
}

const MU: f64 = 100.0; // service mean 10 ms

#[test]
fn mmc_matches_erlang_c_at_rho_0_5() {
    let (c, rho) = (4, 0.5);
    let lambda = rho * c as f64 * MU;
    let s = simulate("exponential", c, lambda, 15_000, 1);
    check("M/M/4 rho=0.5", &s, mmc_wq(c, lambda, MU));
}

#[test]
fn mmc_matches_erlang_c_at_rho_0_8() {
    let (c, rho) = (4, 0.8);
    let lambda = rho * c as f64 * MU;
    let s = simulate("exponential", c, lambda, 20_000, 2);
    check("M/M/4 rho=0.8", &s, mmc_wq(c, lambda, MU));
}

#[test]
fn mmc_matches_erlang_c_at_rho_0_9() {
    let (c, rho) = (4, 0.9);
    let lambda = rho * c as f64 * MU;
    let s = simulate("exponential", c, lambda, 40_000, 3);
    check("M/M/4 rho=0.9", &s, mmc_wq(c, lambda, MU));
}

#[test]
fn md1_matches_pollaczek_khinchine_at_rho_0_5() {
    let lambda = 0.5 * MU;
    let s = simulate("deterministic", 1, lambda, 20_000, 4);
    check("M/D/1 rho=0.5", &s, md1_wq(lambda, MU));
}

#[test]
fn md1_matches_pollaczek_khinchine_at_rho_0_8() {
    let lambda = 0.8 * MU;
    let s = simulate("deterministic", 1, lambda, 30_000, 5);
    check("M/D/1 rho=0.8", &s, md1_wq(lambda, MU));
}

#[test]
fn md1_matches_pollaczek_khinchine_at_rho_0_9() {
    let lambda = 0.9 * MU;
    let s = simulate("deterministic", 1, lambda, 80_000, 6);
    check("M/D/1 rho=0.9", &s, md1_wq(lambda, MU));
}

#[test]
fn erlang_c_known_value() {
    // c = 2, a = 1: C = (1/2 · 2) / (1 + 1 + 1) = 1/3.
    assert!((erlang_c(2, 1.0) - 1.0 / 3.0).abs() < 1e-12);
    // M/M/1 reduces to rho.
    assert!((erlang_c(1, 0.7) - 0.7).abs() < 1e-12);
}

#[test]
fn random_router_splits_into_independent_mm1_queues() {
    // Poisson traffic split uniformly at random is Poisson on each replica: c independent M/M/1.
    let (c, rho) = (4, 0.7);
    let lambda = rho * c as f64 * MU;
    let s = simulate_with(
        "exponential",
        c,
        "dispatch = \"router\"\nrouter = \"random\"",
        lambda,
        10_000,
        7,
    );
    check(
        "4 × M/M/1 behind a random router, rho=0.7",
        &s,
        mmc_wq(1, lambda / c as f64, MU),
    );
}
