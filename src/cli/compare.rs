//! `capsim run` on a scenario with `[[policy]]` variants: each variant runs over the same traffic
//! and random numbers; one comparison table is printed and written as `comparison.csv`.

use super::error::CliError;
use super::load::Loaded;
use super::output::Staged;
use super::run::{apply_flags, folder_name, provenance_and_report, run_one, RunArgs};
use sim_core::results::{NamespaceSummary, ServiceSummary, Summary};
use sim_core::{Inputs, Scenario};
use std::fmt::Write as _;
use std::path::Path;

/// Columns of `comparison.csv`.
pub use capsim_results::columns::COMPARISON as COMPARISON_COLUMNS;

/// Runs every variant into `OUT/policies/<name>/` and writes `OUT/comparison.csv`.
pub fn run_variants(
    args: &RunArgs,
    mut loaded: Loaded,
    checks: &[super::check::Check],
) -> Result<Vec<(String, Summary)>, CliError> {
    let variants: Vec<(String, Scenario, Inputs)> = std::mem::take(&mut loaded.variants);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("results").join(folder_name(&loaded.scenario.name)));
    super::output::refuse_inputs_in(&out, &loaded.files)?;
    let mut rows: Vec<(String, Summary)> = Vec::with_capacity(variants.len());
    for (name, mut s, inputs) in variants {
        apply_flags(&mut s, args)?;
        super::check::prepare_windows(checks, &mut s)
            .map_err(|e| CliError::Input(format!("policy `{name}`: {e}")))?;
        let dir = out.join("policies").join(&name);
        super::output::refuse_inputs_in(&dir, &loaded.files)?;
        // A variant may replay other traces: its estimate counts generated requests only.
        let result = run_one(args, &s, inputs, None, &[], &dir)?;
        rows.push((name, result.summary));
    }
    let mut staged = Staged::new();
    staged.write(&out.join("comparison.csv"), comparison_csv(&rows))?;
    staged.commit()?;
    provenance_and_report(args, &loaded, &out)?;
    print!("{}", render(&rows, &out));
    if args.report {
        println!("             {}/report.html, charts/*.png", out.display());
    }
    Ok(rows)
}

/// The result columns of `comparison.csv` (all but `policy`), the metrics checks and sweeps name.
pub const METRICS: [&str; 16] = [
    "completed",
    "dropped",
    "latency_p50_s",
    "latency_p90_s",
    "latency_p99_s",
    "ttft_p99_s",
    "tpot_p99_s",
    "slo_attainment_ratio",
    "token_slo_attainment_ratio",
    "replica_hours",
    "node_hours",
    "gpu_hours",
    "cost_usd",
    "cost_usd_per_hour",
    "cost_usd_per_million_requests",
    "gpu_oom_kills",
];

/// The values of [`METRICS`] for one run (`None` where the run has no such number).
pub fn metric_values(s: &Summary) -> [Option<f64>; 16] {
    let c = s.cluster.as_ref();
    let k = s.tokens.as_ref();
    [
        Some(s.measured.completed as f64),
        Some(s.measured.dropped as f64),
        s.latency_s.p50,
        s.latency_s.p90,
        s.latency_s.p99,
        k.and_then(|k| k.ttft_s.p99),
        k.and_then(|k| k.tpot_s.p99),
        s.slo.attainment_ratio,
        k.and_then(|k| k.attainment_ratio),
        Some(replica_hours(s)),
        c.map(|c| c.node_hours),
        c.map(|c| c.gpu_hours),
        c.map(|c| c.cost_usd),
        c.map(|c| c.cost_usd_per_hour),
        c.and_then(|c| c.cost_usd_per_million_requests),
        c.map(|c| c.gpu_oom_kills as f64),
    ]
}

fn cell(v: Option<f64>) -> String {
    v.map_or(String::new(), |x| format!("{x:.6}"))
}

/// Hours of replicas serving over the measured window.
fn replica_hours(s: &Summary) -> f64 {
    s.replicas_mean * (s.horizon_s - s.warmup_s) / 3600.0
}

/// What makes a variant's figures meaningless, if anything: no replica Ready after the warm-up
/// (with the scheduler's last reason), or no measured request completed (with where they went).
pub fn trouble(s: &Summary) -> Option<String> {
    let mut why = Vec::new();
    if s.replicas_mean == 0.0 {
        let reason = s
            .cluster
            .as_ref()
            .and_then(|c| c.last_unschedulable_reason.as_deref())
            .map_or(String::new(), |r| format!(" (pods stayed Pending: {r})"));
        why.push(format!("no replica was Ready after the warm-up{reason}"));
    }
    let m = &s.measured;
    if m.completed == 0 {
        let mut drops: Vec<(&String, &u64)> = m
            .dropped_by_reason
            .iter()
            .filter(|(_, n)| **n > 0)
            .collect();
        drops.sort_by(|a, b| b.1.cmp(a.1));
        let drops: Vec<String> = drops.iter().map(|(r, n)| format!("{n} {r}")).collect();
        let dropped = if drops.is_empty() {
            "0 dropped".to_string()
        } else {
            format!("{} dropped ({})", m.dropped, drops.join(", "))
        };
        why.push(format!(
            "no measured request completed: {} arrived, {dropped}, {} in flight at the horizon",
            m.arrived, m.in_flight
        ));
    }
    (!why.is_empty()).then(|| why.join("; "))
}

/// Whether any variant has several services: then `comparison.csv` and the table get a
/// `service` column and one row per service under each variant's cluster row.
pub fn by_service(rows: &[(String, Summary)]) -> bool {
    rows.iter().any(|(_, s)| s.services.len() > 1)
}

/// The values of [`METRICS`] for one service of a run: its own requests, latency, tokens, SLO
/// and replica-hours (over the measured window, as the cluster row's), and its share of the
/// bill (`cost_usd`, that over the horizon per hour, and per million requests, as
/// `summary.json`'s `services` entry has them; `None` without nodes); the node, GPU and OOM
/// columns belong to the cluster and are `None`.
pub fn service_metric_values(s: &Summary, v: &ServiceSummary) -> [Option<f64>; 16] {
    let k = v.tokens.as_ref();
    [
        Some(v.measured.completed as f64),
        Some(v.measured.dropped as f64),
        v.latency_s.p50,
        v.latency_s.p90,
        v.latency_s.p99,
        k.and_then(|k| k.ttft_s.p99),
        k.and_then(|k| k.tpot_s.p99),
        v.slo.attainment_ratio,
        k.and_then(|k| k.attainment_ratio),
        Some(v.replicas_mean * (s.horizon_s - s.warmup_s) / 3600.0),
        None,
        None,
        v.cost_usd,
        v.cost_usd
            .filter(|_| s.horizon_s > 0.0)
            .map(|c| c / (s.horizon_s / 3600.0)),
        v.usd_per_million_requests,
        None,
    ]
}

/// Whether any variant's services span several namespaces (`summary.json`'s `namespaces`):
/// then `comparison.csv` and the table get a `namespace` column after `service`, and one row per
/// namespace after each variant's service rows.
pub fn by_namespace(rows: &[(String, Summary)]) -> bool {
    rows.iter().any(|(_, s)| !s.namespaces.is_empty())
}

/// The [`METRICS`] a namespace has: the sums over its services (requests, replica-hours, cost).
pub const NAMESPACE_METRICS: [&str; 6] = [
    "completed",
    "dropped",
    "replica_hours",
    "cost_usd",
    "cost_usd_per_hour",
    "cost_usd_per_million_requests",
];

/// The values of [`METRICS`] for one namespace of a run: its services' measured requests and
/// replica-hours (over the measured window, as their rows), and its share of the bill, as
/// `summary.json`'s `namespaces` entry has it. What does not add up over services (percentiles,
/// SLO attainment) and the cluster's own columns are `None`.
pub fn namespace_metric_values(s: &Summary, n: &NamespaceSummary) -> [Option<f64>; 16] {
    let replica_hours: f64 = s
        .services
        .iter()
        .filter(|v| v.namespace == n.name)
        .map(|v| v.replicas_mean * (s.horizon_s - s.warmup_s) / 3600.0)
        .sum();
    let mut m = [None; 16];
    m[0] = Some(n.measured.completed as f64);
    m[1] = Some(n.measured.dropped as f64);
    m[9] = Some(replica_hours);
    m[12] = n.cost_usd;
    m[13] = n.cost_usd_per_hour;
    m[14] = n.usd_per_million_requests;
    m
}

/// Writes one service or namespace row's values: counts as whole numbers, replica-hours always,
/// as on the cluster row.
fn write_values(t: &mut String, m: &[Option<f64>; 16]) {
    for (i, x) in m.iter().enumerate() {
        let _ = match (i, x) {
            (0 | 1, Some(x)) => write!(t, ",{}", *x as u64),
            (9, Some(x)) => write!(t, ",{x:.6}"),
            _ => write!(t, ",{}", cell(*x)),
        };
    }
    t.push('\n');
}

/// `comparison.csv`: one row per variant, in file order. With several services, a `service`
/// column follows `policy`: each variant's row for the whole cluster (an empty `service`) is
/// followed by one row per service, in scenario order. With several namespaces a `namespace`
/// column follows: the service rows name theirs, and one row per namespace (an empty `service`),
/// by name, follows them.
pub fn comparison_csv(rows: &[(String, Summary)]) -> String {
    let split = by_service(rows);
    let ns = by_namespace(rows);
    let mut t = if ns {
        COMPARISON_COLUMNS.replacen("policy,", "policy,service,namespace,", 1)
    } else if split {
        COMPARISON_COLUMNS.replacen("policy,", "policy,service,", 1)
    } else {
        String::from(COMPARISON_COLUMNS)
    };
    t.push('\n');
    for (name, s) in rows {
        let c = s.cluster.as_ref();
        let k = s.tokens.as_ref();
        let lead = if ns {
            format!("{name},,")
        } else if split {
            format!("{name},")
        } else {
            name.clone()
        };
        let _ = writeln!(
            t,
            "{lead},{},{},{},{},{},{},{},{},{},{:.6},{},{},{},{},{},{}",
            s.measured.completed,
            s.measured.dropped,
            cell(s.latency_s.p50),
            cell(s.latency_s.p90),
            cell(s.latency_s.p99),
            cell(k.and_then(|k| k.ttft_s.p99)),
            cell(k.and_then(|k| k.tpot_s.p99)),
            cell(s.slo.attainment_ratio),
            cell(k.and_then(|k| k.attainment_ratio)),
            replica_hours(s),
            cell(c.map(|c| c.node_hours)),
            cell(c.map(|c| c.gpu_hours)),
            cell(c.map(|c| c.cost_usd)),
            cell(c.map(|c| c.cost_usd_per_hour)),
            cell(c.and_then(|c| c.cost_usd_per_million_requests)),
            c.map_or(String::new(), |c| c.gpu_oom_kills.to_string()),
        );
        if !split {
            continue;
        }
        for v in &s.services {
            let _ = write!(t, "{name},{}", v.name);
            if ns {
                let _ = write!(t, ",{}", v.namespace);
            }
            write_values(&mut t, &service_metric_values(s, v));
        }
        for n in &s.namespaces {
            let _ = write!(t, "{name},,{}", n.name);
            write_values(&mut t, &namespace_metric_values(s, n));
        }
    }
    t
}

fn ms(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(s) if s >= 10.0 => format!("{s:.1} s"),
        Some(s) => format!("{:.1} ms", s * 1e3),
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |a| format!("{:.2}%", a * 100.0))
}

fn usd(v: Option<f64>) -> String {
    v.map_or("-".into(), |x| format!("${x:.2}"))
}

/// The comparison as people read it: a fixed-width table.
pub fn render(rows: &[(String, Summary)], out: &Path) -> String {
    let split = by_service(rows);
    let ns = by_namespace(rows);
    let tokens = rows
        .iter()
        .any(|(_, s)| s.tokens.is_some() || s.services.iter().any(|v| v.tokens.is_some()));
    let mut header = vec!["policy"];
    if split {
        header.push("service");
    }
    if ns {
        header.push("namespace");
    }
    header.extend(["p50", "p99"]);
    if tokens {
        header.extend(["TTFT p50", "TTFT p99", "TPOT p99"]);
    }
    header.extend(["SLO met", "replica-h", "node-h", "$/hour", "$/M req"]);
    let ooms = rows
        .iter()
        .any(|(_, s)| s.cluster.as_ref().is_some_and(|c| c.gpu_oom_kills > 0));
    if ooms {
        header.push("OOM kills");
    }
    let mut table: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    for (name, s) in rows {
        let c = s.cluster.as_ref();
        let k = s.tokens.as_ref();
        // A variant whose figures mean nothing is marked, and explained under the table.
        let name = match trouble(s) {
            Some(_) => format!("{name} !"),
            None => name.clone(),
        };
        let mut r = vec![name.clone()];
        if split {
            r.push("(cluster)".into());
        }
        if ns {
            r.push(String::new());
        }
        r.extend([ms(s.latency_s.p50), ms(s.latency_s.p99)]);
        if tokens {
            r.push(ms(k.and_then(|k| k.ttft_s.p50)));
            r.push(ms(k.and_then(|k| k.ttft_s.p99)));
            r.push(ms(k.and_then(|k| k.tpot_s.p99)));
        }
        let slo = k
            .and_then(|k| k.attainment_ratio)
            .or(s.slo.attainment_ratio);
        r.push(pct(slo));
        r.push(format!("{:.1}", replica_hours(s)));
        r.push(c.map_or("-".into(), |c| format!("{:.1}", c.node_hours)));
        r.push(usd(c.map(|c| c.cost_usd_per_hour)));
        r.push(usd(c.and_then(|c| c.cost_usd_per_million_requests)));
        if ooms {
            r.push(c.map_or("-".into(), |c| c.gpu_oom_kills.to_string()));
        }
        table.push(r);
        if !split {
            continue;
        }
        // Each service's own figures and its share of the bill; nodes are the cluster's.
        for v in &s.services {
            let m = service_metric_values(s, v);
            let mut r = vec![name.clone(), v.name.clone()];
            if ns {
                r.push(v.namespace.clone());
            }
            r.extend([ms(m[2]), ms(m[4])]);
            if tokens {
                r.push(ms(v.tokens.as_ref().and_then(|k| k.ttft_s.p50)));
                r.push(ms(m[5]));
                r.push(ms(m[6]));
            }
            r.push(pct(m[8].or(m[7])));
            r.push(format!("{:.1}", m[9].unwrap_or(0.0)));
            r.extend(["-".to_string(), usd(m[13]), usd(m[14])]);
            if ooms {
                r.push("-".into());
            }
            table.push(r);
        }
        // Each namespace: its services' sums; latency and SLO do not add up, so none.
        for n in &s.namespaces {
            let m = namespace_metric_values(s, n);
            let mut r = vec![name.clone(), "(all)".into(), n.name.clone()];
            let dashes = if tokens { 6 } else { 3 };
            r.extend(std::iter::repeat_n("-".to_string(), dashes));
            r.push(format!("{:.1}", m[9].unwrap_or(0.0)));
            r.extend(["-".to_string(), usd(m[13]), usd(m[14])]);
            if ooms {
                r.push("-".into());
            }
            table.push(r);
        }
    }
    let widths: Vec<usize> = (0..table[0].len())
        .map(|j| {
            table
                .iter()
                .map(|r| r[j].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut t = String::new();
    if let Some((_, first)) = rows.first() {
        let _ = writeln!(
            t,
            "capsim {} · scenario {} · seed {} · horizon {} s (warm-up {} s) · {} policies, same traffic and random numbers",
            first.capsim_version,
            first.scenario,
            first.seed,
            first.horizon_s,
            first.warmup_s,
            rows.len()
        );
    }
    for r in &table {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(j, c)| {
                // Names (the policy, the service and namespace with several) to the left,
                // numbers right.
                if j == 0 || (split && j == 1) || (ns && j == 2) {
                    format!("{c:<w$}", w = widths[j])
                } else {
                    format!("{c:>w$}", w = widths[j])
                }
            })
            .collect();
        let _ = writeln!(t, "{}", line.join("  ").trim_end());
    }
    for (name, s) in rows {
        if let Some(why) = trouble(s) {
            let _ = writeln!(t, "warning      ! policy `{name}`: {why}");
        }
    }
    // The optional files any variant wrote, in the order a run names them.
    let mut optional: Vec<&str> = Vec::new();
    for (_, s) in rows {
        for f in super::run::optional_files(s) {
            if !optional.contains(&f) {
                optional.push(f);
            }
        }
    }
    let mut per_policy = String::from("summary.json, timeseries.csv");
    for f in optional {
        per_policy.push_str(", ");
        per_policy.push_str(f);
    }
    let _ = writeln!(
        t,
        "wrote        {}/comparison.csv, scenario.toml, inputs.csv, policies/<name>/{per_policy}",
        out.display()
    );
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_metrics_are_the_ones_a_namespace_row_fills() {
        let mut s: Summary =
            serde_json::from_str(include_str!("../../tests/golden/golden.summary.json")).unwrap();
        s.services[0].requests.completed = 10;
        s.services[0].cost = Some(capsim_results::ResourceCost::new(1.0, 2.0, 3.0));
        let n = &capsim_results::namespaces(&s.services, s.horizon_s)[0];
        assert_eq!(n.cost_usd, Some(6.0));
        let filled: Vec<&str> = namespace_metric_values(&s, n)
            .iter()
            .zip(METRICS)
            .filter(|(v, _)| v.is_some())
            .map(|(_, m)| m)
            .collect();
        assert_eq!(filled, NAMESPACE_METRICS);
    }

    #[test]
    fn metrics_are_the_comparison_columns() {
        assert_eq!(
            format!("policy,{}", METRICS.join(",")),
            COMPARISON_COLUMNS,
            "sweep.csv and comparison.csv share their result columns"
        );
    }
}
