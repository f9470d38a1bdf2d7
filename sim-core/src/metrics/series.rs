//! The time series: one row per sample interval, written as `timeseries.csv`.

use std::fmt::Write as _;

/// One sample interval. Rates and utilisations are averaged over the interval; counts are taken at
/// its end; latency columns describe requests that completed within it.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesRow {
    /// End of the interval, seconds.
    pub time_s: f64,
    /// Arrivals per second.
    pub arrivals_per_s: f64,
    /// Completions per second.
    pub completions_per_s: f64,
    /// Drops per second.
    pub drops_per_s: f64,
    /// Requests waiting at the end.
    pub queue_length: u32,
    /// Requests waiting or executing at the end.
    pub in_flight: u32,
    /// Replicas the Deployment wants, at the end.
    pub desired_replicas: u32,
    /// Replicas serving, at the end.
    pub ready_replicas: u32,
    /// Time-averaged busy replicas.
    pub busy_replicas_mean: f64,
    /// Time-averaged busy replicas over ready replicas at the end.
    pub replica_util_ratio: f64,
    /// Mean end-to-end latency of completions in the interval.
    pub latency_mean_s: Option<f64>,
    /// Median latency of completions in the interval.
    pub latency_p50_s: Option<f64>,
    /// 99th-percentile latency of completions in the interval.
    pub latency_p99_s: Option<f64>,
    /// Fraction of requests finished in the interval (completed or dropped) that met the SLO.
    pub slo_attainment_ratio: Option<f64>,
    /// Billed nodes at the end.
    pub nodes: u32,
    /// Ready nodes at the end.
    pub nodes_ready: u32,
    /// Pods waiting for a node at the end.
    pub pods_pending: u32,
    /// CPU requested over CPU allocatable on ready nodes, averaged over the interval.
    pub cpu_alloc_ratio: Option<f64>,
    /// GPUs requested over GPUs allocatable on ready nodes, averaged over the interval.
    pub gpu_alloc_ratio: Option<f64>,
    /// Price of billed nodes, averaged over the interval, USD per hour; in a service's series
    /// (`services.csv`), what its bound pods' requests cost at their nodes' rates instead.
    pub cost_usd_per_hour: f64,
    /// Cost accrued from the start to the end of the interval, USD.
    pub cost_usd: f64,
    /// 99th-percentile time to first token of completions in the interval (LLM engines).
    pub ttft_p99_s: Option<f64>,
    /// 99th-percentile time per output token of completions in the interval (LLM engines).
    pub tpot_p99_s: Option<f64>,
    /// GPU-equivalents held by a service's bound pods, averaged over the interval (whole GPUs,
    /// MIG slices as compute slices over 7, time-sliced shares as 1 over the shares per GPU);
    /// written to `services.csv` only (0 in the cluster's series).
    pub gpus: f64,
    /// Fraction of requests finished in the interval (completed or dropped) that met every
    /// token-level target (LLM engines with a TTFT or TPOT target); `timeseries.csv` only.
    pub token_slo_attainment_ratio: Option<f64>,
}

/// Column names of `timeseries.csv`, in order.
pub use capsim_results::columns::TIMESERIES as COLUMNS;

/// Formats a float for CSV and JSON-like outputs: shortest round-trip form, rounded to 1e-9.
pub fn num(v: f64) -> String {
    let r = (v * 1e9).round() / 1e9;
    if r == 0.0 {
        "0".to_string()
    } else {
        format!("{r}")
    }
}

fn opt(v: Option<f64>) -> String {
    v.map(num).unwrap_or_default()
}

/// The serving columns both `timeseries.csv` and `services.csv` have, in their order, from
/// `arrivals_per_s` to `slo_attainment_ratio`.
struct Serving<'a>(&'a SeriesRow);

impl std::fmt::Display for Serving<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = self.0;
        write!(
            f,
            "{},{},{},{},{},{},{},{},{},{},{},{},{}",
            num(r.arrivals_per_s),
            num(r.completions_per_s),
            num(r.drops_per_s),
            r.queue_length,
            r.in_flight,
            r.desired_replicas,
            r.ready_replicas,
            num(r.busy_replicas_mean),
            num(r.replica_util_ratio),
            opt(r.latency_mean_s),
            opt(r.latency_p50_s),
            opt(r.latency_p99_s),
            opt(r.slo_attainment_ratio),
        )
    }
}

/// The whole `timeseries.csv` text.
pub fn to_csv(rows: &[SeriesRow]) -> String {
    let mut out = String::with_capacity(64 * (rows.len() + 1));
    out.push_str(&COLUMNS.join(","));
    out.push('\n');
    for r in rows {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{}",
            num(r.time_s),
            Serving(r),
            r.nodes,
            r.nodes_ready,
            r.pods_pending,
            opt(r.cpu_alloc_ratio),
            opt(r.gpu_alloc_ratio),
            num(r.cost_usd_per_hour),
            num(r.cost_usd),
            opt(r.ttft_p99_s),
            opt(r.tpot_p99_s),
            opt(r.token_slo_attainment_ratio),
        );
    }
    out
}

/// The columns of `services.csv`: each service's own series, one row per service per interval.
pub use capsim_results::columns::SERVICES as SERVICE_COLUMNS;

/// The whole `services.csv` text (long format: by interval, then by service in scenario order).
pub fn to_service_csv(series: &[(String, Vec<SeriesRow>)]) -> String {
    let rows = series.iter().map(|(_, r)| r.len()).max().unwrap_or(0);
    let mut out = String::with_capacity(64 * (rows * series.len() + 1));
    out.push_str(&SERVICE_COLUMNS.join(","));
    out.push('\n');
    for i in 0..rows {
        for (name, s) in series {
            let Some(r) = s.get(i) else { continue };
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{}",
                num(r.time_s),
                name,
                Serving(r),
                opt(r.ttft_p99_s),
                opt(r.tpot_p99_s),
                num(r.gpus),
                num(r.cost_usd_per_hour),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(time_s: f64, gpus: f64) -> SeriesRow {
        SeriesRow {
            time_s,
            arrivals_per_s: 2.0,
            completions_per_s: 1.5,
            drops_per_s: 0.0,
            queue_length: 1,
            in_flight: 3,
            desired_replicas: 2,
            ready_replicas: 1,
            busy_replicas_mean: 0.5,
            replica_util_ratio: 0.5,
            latency_mean_s: Some(0.02),
            latency_p50_s: Some(0.02),
            latency_p99_s: Some(0.04),
            slo_attainment_ratio: None,
            nodes: 7,
            nodes_ready: 7,
            pods_pending: 0,
            cpu_alloc_ratio: Some(0.1),
            gpu_alloc_ratio: Some(0.2),
            cost_usd_per_hour: 1.0,
            cost_usd: 1.0,
            ttft_p99_s: None,
            tpot_p99_s: None,
            gpus,
            token_slo_attainment_ratio: Some(0.5),
        }
    }

    /// `services.csv`: by interval, then by service; the cluster's columns (nodes, cost) are not
    /// repeated; `gpus` (GPU-equivalents, a mean over the interval) and `cost_usd_per_hour` (what
    /// the service's requests cost, a mean over the interval) are last.
    #[test]
    fn services_csv_is_long_format_with_gpus_and_cost_last() {
        let csv = to_service_csv(&[
            ("a".into(), vec![row(60.0, 1.0), row(120.0, 1.5)]),
            ("b".into(), vec![row(60.0, 3.0 / 7.0), row(120.0, 0.0)]),
        ]);
        assert_eq!(
            csv,
            "time_s,service,arrivals_per_s,completions_per_s,drops_per_s,queue_length,in_flight,\
desired_replicas,ready_replicas,busy_replicas_mean,replica_util_ratio,latency_mean_s,\
latency_p50_s,latency_p99_s,slo_attainment_ratio,ttft_p99_s,tpot_p99_s,gpus,cost_usd_per_hour\n\
60,a,2,1.5,0,1,3,2,1,0.5,0.5,0.02,0.02,0.04,,,,1,1\n\
60,b,2,1.5,0,1,3,2,1,0.5,0.5,0.02,0.02,0.04,,,,0.428571429,1\n\
120,a,2,1.5,0,1,3,2,1,0.5,0.5,0.02,0.02,0.04,,,,1.5,1\n\
120,b,2,1.5,0,1,3,2,1,0.5,0.5,0.02,0.02,0.04,,,,0,1\n"
        );
    }
}
