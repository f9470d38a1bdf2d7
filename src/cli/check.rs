//! `[[check]]` assertions: a metric, a comparison and a threshold, optionally for one policy
//! variant or one sweep point. `capsim run`, `sweep` and `optimize` exit with code 3 and list the
//! checks that failed.

use super::compare::{metric_values, METRICS};
use super::error::CliError;
use sim_core::engine::{parse_duration, SimDuration};
use sim_core::results::{Summary, WindowSeries};
use sim_core::scenario::error::closest;
use sim_core::{Scenario, ScenarioError};
use std::path::Path;
use toml::Value;

/// A comparison of a metric with a threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            _ => return None,
        })
    }

    /// The operator as written in a check.
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }

    /// Whether `v op threshold` holds.
    pub fn holds(self, v: f64, threshold: f64) -> bool {
        match self {
            Op::Lt => v < threshold,
            Op::Le => v <= threshold,
            Op::Gt => v > threshold,
            Op::Ge => v >= threshold,
        }
    }
}

/// One `[[check]]` table.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    /// Where it came from, such as `sweep.toml [[check]] 2`, for failure messages.
    pub origin: String,
    /// The metric's index in [`METRICS`].
    pub metric: usize,
    /// The service it is about (`services.<name>.<metric>`): its index and name; `None` for the
    /// whole run.
    pub service: Option<(usize, String)>,
    /// The namespace it is about (`namespaces.<name>.<metric>`); `None` for the whole run.
    pub namespace: Option<String>,
    /// The comparison.
    pub op: Op,
    /// The threshold.
    pub threshold: f64,
    /// Only rows of this policy variant.
    pub policy: Option<String>,
    /// Only this sweep point.
    pub point: Option<usize>,
    /// Evaluated per window of this length, on the worst window (`window = "1h"`).
    pub window: Option<Window>,
}

/// The `window` of a windowed check.
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    /// The length.
    pub len: SimDuration,
    /// As written, such as `1h`.
    pub written: String,
    /// Where it is written (file, line, key `check[i].window`), for errors found later against
    /// the scenario it runs with.
    pub at: ScenarioError,
}

/// The metrics a windowed check may ask for (each measured per window: counts of the window's
/// measured requests, their percentiles and SLO attainment, the cost rate over the window).
pub const WINDOW_METRICS: [&str; 10] = [
    "completed",
    "dropped",
    "latency_p50_s",
    "latency_p90_s",
    "latency_p99_s",
    "ttft_p99_s",
    "tpot_p99_s",
    "slo_attainment_ratio",
    "token_slo_attainment_ratio",
    "cost_usd_per_hour",
];

/// One window's start and end (seconds) and the check's metric there (`None` where the window
/// has no such number, such as a percentile of no completion).
pub type WindowValue = (f64, f64, Option<f64>);

impl Check {
    /// The check as people read it: `latency_p99_s <= 0.025 (policy fast)`.
    pub fn describe(&self) -> String {
        let mut t = format!(
            "{}{} {} {}",
            match (&self.service, &self.namespace) {
                (Some((_, n)), _) => format!("services.{n}."),
                (None, Some(n)) => format!("namespaces.{n}."),
                (None, None) => String::new(),
            },
            METRICS[self.metric],
            self.op.symbol(),
            self.threshold
        );
        if let Some(p) = &self.policy {
            t.push_str(&format!(" for policy {p}"));
        }
        if let Some(w) = &self.window {
            t.push_str(&format!(" in every {} window", w.written));
        }
        if let Some(p) = self.point {
            t.push_str(&format!(" at point {p}"));
        }
        t
    }

    /// A windowed check's windows in a run's summary (the run's, or its service's).
    pub fn window_values(&self, s: &Summary) -> Vec<WindowValue> {
        let Some(w) = &self.window else {
            return Vec::new();
        };
        let series: &[WindowSeries] = match &self.service {
            Some((i, _)) => s.services.get(*i).map_or(&[], |v| &v.windows),
            None => &s.windows,
        };
        let len_s = w.len.as_secs_f64();
        let metric = METRICS[self.metric];
        series
            .iter()
            .find(|x| x.window_s == len_s)
            .map(|x| {
                x.windows
                    .iter()
                    .map(|w| {
                        let v = match metric {
                            "completed" => Some(w.completed as f64),
                            "dropped" => Some(w.dropped as f64),
                            "latency_p50_s" => w.latency_p50_s,
                            "latency_p90_s" => w.latency_p90_s,
                            "latency_p99_s" => w.latency_p99_s,
                            "ttft_p99_s" => w.ttft_p99_s,
                            "tpot_p99_s" => w.tpot_p99_s,
                            "slo_attainment_ratio" => w.slo_attainment_ratio,
                            "token_slo_attainment_ratio" => w.token_slo_attainment_ratio,
                            "cost_usd_per_hour" => Some(w.cost_usd_per_hour),
                            _ => None,
                        };
                        (w.start_s, w.end_s, v)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The worst of `windows`: the largest value for an upper limit (`<`, `<=`), the smallest for
    /// a lower one; the earliest of equal ones. `None` when no window has a value.
    pub fn worst(&self, windows: &[WindowValue]) -> Option<(f64, f64, f64)> {
        let upper = matches!(self.op, Op::Lt | Op::Le);
        let mut best: Option<(f64, f64, f64)> = None;
        for &(a, b, v) in windows {
            let Some(v) = v else { continue };
            let worse = best.is_none_or(|(_, _, w)| if upper { v > w } else { v < w });
            if worse {
                best = Some((a, b, v));
            }
        }
        best
    }

    /// `None` when a windowed check holds in every window, else why not, naming the worst
    /// window.
    pub fn window_failure(&self, windows: &[WindowValue]) -> Option<String> {
        let m = METRICS[self.metric];
        match self.worst(windows) {
            None => Some(format!(
                "{}: no window after the warm-up has a {m} ({} windows; a percentile needs a measured completion in the window, an SLO attainment a target)",
                self.describe(),
                windows.len()
            )),
            Some((_, _, v)) if self.op.holds(v, self.threshold) => None,
            Some((a, b, v)) => Some(format!(
                "{}: worst window {}–{} s: {m} {v} (limit {} {})",
                self.describe(),
                secs(a),
                secs(b),
                self.op.symbol(),
                self.threshold
            )),
        }
    }

    /// Whether the check concerns a row of `policy` at `point` (`None` outside sweeps).
    pub fn applies(&self, point: Option<usize>, policy: &str) -> bool {
        self.policy.as_deref().is_none_or(|p| p == policy)
            && self.point.is_none_or(|p| point == Some(p))
    }

    /// `None` when the check holds for these metric values (the run's, then each service's),
    /// else why not.
    pub fn failure(&self, values: &[Option<f64>]) -> Option<String> {
        self.failure_in(values, &[])
    }

    /// As [`Check::failure`], where the values of `namespaces` (by name) follow the services'.
    pub fn failure_in(&self, values: &[Option<f64>], namespaces: &[String]) -> Option<String> {
        // A service's metrics follow the run's, service by service; a namespace's come last.
        let base = match (&self.service, &self.namespace) {
            (Some((i, _)), _) => (i + 1) * METRICS.len(),
            (None, Some(n)) => {
                let Some(j) = namespaces.iter().position(|x| x == n) else {
                    return Some(format!(
                        "{}: no service of the run is in namespace \"{n}\" (its namespaces: {})",
                        self.describe(),
                        if namespaces.is_empty() {
                            "none".to_string()
                        } else {
                            namespaces.join(", ")
                        }
                    ));
                };
                values.len() - (namespaces.len() - j) * METRICS.len()
            }
            (None, None) => 0,
        };
        let get = |name: &str| {
            METRICS
                .iter()
                .position(|m| *m == name)
                .and_then(|i| values.get(base + i).copied().flatten())
        };
        let at = base + self.metric;
        match values.get(at).copied().flatten() {
            // The real cause first: a run in which nothing completed has no latency at all.
            None => Some(match (get("completed"), get("dropped")) {
                (Some(0.0), d) => format!(
                    "{}: no measured request completed ({} dropped), so the run has no {}",
                    self.describe(),
                    d.map_or("-".to_string(), |d| d.to_string()),
                    METRICS[self.metric]
                ),
                _ => format!(
                    "{}: the run has no {} (a metric of token-level engines or clusters)",
                    self.describe(),
                    METRICS[self.metric]
                ),
            }),
            Some(v) if self.op.holds(v, self.threshold) => None,
            Some(v) => Some(format!("{}: found {v}", self.describe())),
        }
    }
}

/// The [`METRICS`] only the whole cluster has; a check may ask any other of one service
/// (`services.<name>.<metric>`).
const CLUSTER_ONLY: [&str; 3] = ["node_hours", "gpu_hours", "gpu_oom_kills"];

/// The metrics a check may ask of one service, in [`METRICS`] order.
pub fn service_metrics() -> impl Iterator<Item = &'static str> {
    METRICS.into_iter().filter(|m| !CLUSTER_ONLY.contains(m))
}

/// The metrics a check may ask of one namespace (`namespaces.<name>.<metric>`).
pub fn namespace_metrics() -> impl Iterator<Item = &'static str> {
    super::compare::NAMESPACE_METRICS.into_iter()
}

/// The run's [`METRICS`], then each service's (in scenario order; cluster-only metrics empty),
/// as the comparison's service rows have them, then each namespace's (by name, as
/// [`namespaces_of`] lists them; only sums), as its namespace rows have them.
pub fn all_metric_values(s: &Summary) -> Vec<Option<f64>> {
    let mut v = metric_values(s).to_vec();
    for x in &s.services {
        let own = super::compare::service_metric_values(s, x);
        // The cluster-only metrics are empty here (`service_metric_values`).
        v.extend(own);
    }
    for n in namespaces(s) {
        v.extend(super::compare::namespace_metric_values(s, &n));
    }
    v
}

/// Every namespace of a run's services, by name: `summary.json`'s `namespaces`, or, where it
/// lists none (all services in one), that one namespace's sums.
fn namespaces(s: &Summary) -> Vec<capsim_results::NamespaceSummary> {
    if s.namespaces.is_empty() {
        capsim_results::namespaces(&s.services, s.horizon_s)
    } else {
        s.namespaces.clone()
    }
}

/// The names of [`namespaces`], in the order [`all_metric_values`] lists their values.
pub fn namespaces_of(s: &Summary) -> Vec<String> {
    namespaces(s).into_iter().map(|n| n.name).collect()
}

/// The `[[check]]` tables of a TOML file (a scenario or a sweep). `points` is the number of sweep
/// points (`None` for a scenario, where `point` is not allowed).
pub fn parse_checks(
    source: &str,
    file: &str,
    points: Option<usize>,
) -> Result<Vec<Check>, ScenarioError> {
    let table: toml::Table = sim_core::scenario::model::parse_raw(source, file)?;
    let names = sim_core::scenario::services::service_names(&table);
    let Some(list) = table.get("check") else {
        return Ok(Vec::new());
    };
    let err = |key: &str, m: String| ScenarioError::at_key(file, source, key, m);
    let Value::Array(list) = list else {
        return Err(err("check", "expected [[check]] tables".into()));
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let key = format!("check[{i}]");
        let Value::Table(t) = item else {
            return Err(err(&key, "expected a [[check]] table".into()));
        };
        for k in t.keys() {
            let allowed: &[&str] = if points.is_some() {
                &["metric", "op", "threshold", "policy", "point", "window"]
            } else {
                &["metric", "op", "threshold", "policy", "window"]
            };
            if !allowed.contains(&k.as_str()) {
                let hint = closest(k, allowed)
                    .map(|c| format!("; did you mean `{c}`?"))
                    .unwrap_or_default();
                return Err(err(
                    &format!("{key}.{k}"),
                    format!(
                        "unknown key `{k}`, expected one of {}{hint}",
                        allowed
                            .iter()
                            .map(|a| format!("`{a}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
        let mut service = None;
        let mut namespace = None;
        let metric = match t.get("metric") {
            Some(Value::String(full)) => {
                let m = if let Some(rest) = full.strip_prefix("namespaces.") {
                    // Namespaces may come from manifests, so the name is checked at run time.
                    let (name, m) = rest.rsplit_once('.').unwrap_or((rest, ""));
                    if name.is_empty() || !namespace_metrics().any(|x| x == m) {
                        return Err(err(
                            &format!("{key}.metric"),
                            format!(
                                "\"{full}\": expected `namespaces.<name>.<metric>` with one of {}",
                                namespace_metrics().collect::<Vec<_>>().join(", ")
                            ),
                        ));
                    }
                    namespace = Some(name.to_string());
                    m
                } else {
                    match full.strip_prefix("services.") {
                        None => full.as_str(),
                        Some(rest) => {
                            let (name, m) = rest.rsplit_once('.').unwrap_or((rest, ""));
                            let Some(i) = names.iter().position(|n| n == name) else {
                                return Err(err(
                                    &format!("{key}.metric"),
                                    if names.is_empty() {
                                        format!("\"{full}\" names a service, but this file has no [[service]] tables (a per-service metric is `services.<name>.<metric>` in a scenario with several services)")
                                    } else {
                                        format!(
                                        "no [[service]] is named \"{name}\"; the services are: {}",
                                        names.join(", ")
                                    )
                                    },
                                ));
                            };
                            if !service_metrics().any(|x| x == m) {
                                return Err(err(
                                    &format!("{key}.metric"),
                                    format!(
                                        "\"{m}\" is not a per-service metric; expected one of {}",
                                        service_metrics().collect::<Vec<_>>().join(", ")
                                    ),
                                ));
                            }
                            service = Some((i, name.to_string()));
                            m
                        }
                    }
                };
                match METRICS.iter().position(|x| *x == m) {
                    Some(p) => p,
                    None => {
                        let hint = closest(m, &METRICS)
                            .map(|c| format!("; did you mean `{c}`?"))
                            .unwrap_or_default();
                        return Err(err(
                            &format!("{key}.metric"),
                            format!(
                                "unknown metric \"{m}\", expected one of {}{hint}",
                                METRICS.join(", ")
                            ),
                        ));
                    }
                }
            }
            Some(_) => return Err(err(&format!("{key}.metric"), "expected a string".into())),
            None => {
                return Err(err(
                    &key,
                    "missing: expected `metric`, such as \"latency_p99_s\"".into(),
                ))
            }
        };
        let op = match t.get("op") {
            Some(Value::String(o)) => Op::parse(o).ok_or_else(|| {
                err(
                    &format!("{key}.op"),
                    format!("expected one of \"<\", \"<=\", \">\", \">=\", found \"{o}\""),
                )
            })?,
            Some(_) => return Err(err(&format!("{key}.op"), "expected a string".into())),
            None => {
                return Err(err(
                    &key,
                    "missing: expected `op`, one of \"<\", \"<=\", \">\", \">=\"".into(),
                ))
            }
        };
        let threshold = match t.get("threshold") {
            Some(Value::Integer(n)) => *n as f64,
            Some(Value::Float(x)) if x.is_finite() => *x,
            Some(_) => {
                return Err(err(
                    &format!("{key}.threshold"),
                    "expected a finite number".into(),
                ))
            }
            None => return Err(err(&key, "missing: expected `threshold`, a number".into())),
        };
        let policy = match t.get("policy") {
            None => None,
            Some(Value::String(p)) => Some(p.clone()),
            Some(_) => return Err(err(&format!("{key}.policy"), "expected a string".into())),
        };
        let point = match (t.get("point"), points) {
            (None, _) => None,
            (Some(Value::Integer(p)), Some(n)) if *p >= 0 && (*p as usize) < n => Some(*p as usize),
            (Some(_), Some(n)) => {
                return Err(err(
                    &format!("{key}.point"),
                    format!("expected a point index from 0 to {}", n.saturating_sub(1)),
                ))
            }
            (Some(_), None) => unreachable!("rejected above as an unknown key"),
        };
        let window = match t.get("window") {
            None => None,
            Some(Value::String(w)) => {
                let wkey = format!("{key}.window");
                let len = parse_duration(w).map_err(|e| err(&wkey, e.to_string()))?;
                if len == SimDuration::ZERO {
                    return Err(err(
                        &wkey,
                        format!("expected a window longer than zero, such as \"5m\" or \"1h\", found \"{w}\""),
                    ));
                }
                if namespace.is_some() || !WINDOW_METRICS.contains(&METRICS[metric]) {
                    return Err(err(
                        &wkey,
                        format!(
                            "`{}` has no per-window figure; a windowed check takes one of {} (of the run or of one service)",
                            t.get("metric").and_then(Value::as_str).unwrap_or_default(),
                            WINDOW_METRICS.join(", ")
                        ),
                    ));
                }
                Some(Window {
                    len,
                    written: w.clone(),
                    at: err(&wkey, String::new()),
                })
            }
            Some(_) => {
                return Err(err(
                    &format!("{key}.window"),
                    "expected a duration string, such as \"5m\" or \"1h\"".into(),
                ))
            }
        };
        out.push(Check {
            origin: format!("{file} [[check]] {i}"),
            metric,
            service,
            namespace,
            op,
            threshold,
            policy,
            point,
            window,
        });
    }
    Ok(out)
}

/// A sweep run's values: [`METRICS`], then, for each windowed check in `checks` order, its
/// window count and each window's start, end and value (so replications average window by
/// window, and a point file keeps them).
pub fn sweep_values(checks: &[Check], s: &Summary) -> Vec<Option<f64>> {
    let mut v = metric_values(s).to_vec();
    for c in checks.iter().filter(|c| c.window.is_some()) {
        let w = c.window_values(s);
        v.push(Some(w.len() as f64));
        for (a, b, x) in w {
            v.extend([Some(a), Some(b), x]);
        }
    }
    v
}

/// Check `j`'s windows in a sweep row's `values` ([`sweep_values`], averaged); `None` when the
/// values do not hold them.
fn sweep_windows(checks: &[Check], j: usize, values: &[Option<f64>]) -> Option<Vec<WindowValue>> {
    let mut at = METRICS.len();
    for (i, c) in checks.iter().enumerate() {
        if c.window.is_none() {
            continue;
        }
        let n = values.get(at).copied().flatten()? as usize;
        let end = at + 1 + 3 * n;
        if i == j {
            let w = values.get(at + 1..end)?;
            return Some(
                w.chunks(3)
                    .map(|x| (x[0].unwrap_or(0.0), x[1].unwrap_or(0.0), x[2]))
                    .collect(),
            );
        }
        at = end;
    }
    None
}

/// Check `j` on a sweep row's `values` ([`sweep_values`]): why it fails (`None` when it holds),
/// and for a windowed check, the start of its worst window.
pub fn sweep_failure(
    checks: &[Check],
    j: usize,
    values: &[Option<f64>],
) -> (Option<String>, Option<f64>) {
    let c = &checks[j];
    if c.window.is_none() {
        return (c.failure(values), None);
    }
    match sweep_windows(checks, j, values) {
        Some(w) => (c.window_failure(&w), c.worst(&w).map(|x| x.0)),
        None => (
            Some(format!("{}: the run kept no windows", c.describe())),
            None,
        ),
    }
}

/// Seconds as people read them: `3600`, `0.5`.
pub fn secs(x: f64) -> String {
    sim_core::metrics::series::num(x)
}

/// Sets the window lengths `s` keeps statistics for from the windowed `checks` (the run's and
/// service 0's on `s`, each other service's on its own view), after checking each window against
/// `s`: a multiple of the sample interval, no longer than the horizon minus the warm-up, and at
/// most [`sim_core::metrics::windows::MAX_LENGTHS`] lengths. Errors point at the check's
/// `window` key.
pub fn prepare_windows(checks: &[Check], s: &mut Scenario) -> Result<(), ScenarioError> {
    let mut per: Vec<Vec<SimDuration>> = vec![Vec::new(); 1 + s.others.len()];
    let mut all: Vec<SimDuration> = Vec::new();
    for c in checks {
        let Some(w) = &c.window else { continue };
        let fail = |m: String| {
            let mut e = w.at.clone();
            e.message = m;
            e
        };
        let iv = s.sample_interval;
        if iv.0 == 0 || w.len.0 % iv.0 != 0 {
            return Err(fail(format!(
                "window \"{}\" is not a multiple of the sample interval (simulation.sample_interval = {iv}): expected a whole number of sample intervals, such as {}",
                w.written,
                SimDuration(iv.0.saturating_mul((w.len.0 / iv.0.max(1)).max(1)))
            )));
        }
        let measured = SimDuration(s.horizon.0.saturating_sub(s.warmup.0));
        if w.len > measured {
            return Err(fail(format!(
                "window \"{}\" is longer than the measured time (horizon {} minus warm-up {} = {measured}): expected a window of at most {measured}",
                w.written, s.horizon, s.warmup
            )));
        }
        if !all.contains(&w.len) {
            all.push(w.len);
        }
        if all.len() > sim_core::metrics::windows::MAX_LENGTHS {
            return Err(fail(format!(
                "expected at most {} different window lengths in one run, found {} ({})",
                sim_core::metrics::windows::MAX_LENGTHS,
                all.len(),
                all.iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let i = c.service.as_ref().map_or(0, |(i, _)| *i);
        if let Some(v) = per.get_mut(i) {
            if !v.contains(&w.len) {
                v.push(w.len);
            }
        }
    }
    let mut per = per.into_iter();
    s.windows = per.next().unwrap_or_default();
    for (o, w) in s.others.iter_mut().zip(per) {
        o.windows = w;
    }
    Ok(())
}

/// The checks of the scenario file at `path` (read again; the run already validated it).
pub fn load_checks(path: &Path) -> Result<Vec<Check>, CliError> {
    let shown = path.display().to_string();
    let text = crate::cli::read_text(path)
        .map_err(|e| CliError::Input(format!("{shown}: cannot read the scenario: {e}")))?;
    parse_checks(&text, &shown, None).map_err(|e| CliError::Input(e.to_string()))
}

/// A row checks are evaluated on: its sweep point (if any), policy and metric values.
pub struct Row<'a> {
    /// Sweep point index; `None` for `capsim run`.
    pub point: Option<usize>,
    /// Policy variant name (`base` without variants).
    pub policy: &'a str,
    /// Values of [`METRICS`]: the run's, then each service's, then each namespace's.
    pub values: &'a [Option<f64>],
    /// The namespaces whose values end `values`, in their order (empty in sweeps).
    pub namespaces: &'a [String],
    /// The run's summary, for windowed checks (`None` in sweeps, which carry them otherwise).
    pub summary: Option<&'a Summary>,
}

/// Every failure of `checks` over `rows`, one line each; a check no row concerns fails too.
pub fn failures(checks: &[Check], rows: &[Row]) -> Vec<String> {
    let mut out = Vec::new();
    for c in checks {
        let mut any = false;
        for r in rows.iter().filter(|r| c.applies(r.point, r.policy)) {
            any = true;
            let f = match (&c.window, r.summary) {
                (Some(_), Some(s)) => c.window_failure(&c.window_values(s)),
                _ => c.failure_in(r.values, r.namespaces),
            };
            if let Some(f) = f {
                let mut at = String::new();
                if let Some(p) = r.point {
                    at.push_str(&format!("point {p}, "));
                }
                at.push_str(&format!("policy {}", r.policy));
                out.push(format!("{} ({at}): {f}", c.origin));
            }
        }
        if !any {
            out.push(format!(
                "{}: {}: no run matches its policy/point filter",
                c.origin,
                c.describe()
            ));
        }
    }
    out
}

/// Turns failures into the error `capsim` exits with (code 3), or `Ok` when there are none.
pub fn verdict(failed: Vec<String>, total: usize) -> Result<(), CliError> {
    if failed.is_empty() {
        if total > 0 {
            eprintln!("checks: all {total} passed");
        }
        return Ok(());
    }
    Err(CliError::Checks(format!(
        "checks: {} failed (exit code 3):\n  {}",
        failed.len(),
        failed.join("\n  ")
    )))
}

/// Evaluates a scenario's checks on the summaries `capsim run` produced.
pub fn enforce(checks: &[Check], runs: &[(String, Summary)]) -> Result<(), CliError> {
    let values: Vec<Vec<Option<f64>>> = runs.iter().map(|(_, s)| all_metric_values(s)).collect();
    let names: Vec<Vec<String>> = runs.iter().map(|(_, s)| namespaces_of(s)).collect();
    let rows: Vec<Row> = runs
        .iter()
        .zip(values.iter().zip(&names))
        .map(|((name, s), (v, n))| Row {
            point: None,
            policy: name,
            values: v,
            namespaces: n,
            summary: Some(s),
        })
        .collect();
    verdict(failures(checks, &rows), checks.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "name = \"x\"\n[[check]]\nmetric = \"latency_p99_s\"\nop = \"<=\"\nthreshold = 0.5\n\n[[check]]\nmetric = \"completed\"\nop = \">\"\nthreshold = 10\npolicy = \"fast\"\n";

    #[test]
    fn parses_and_evaluates() {
        let c = parse_checks(SRC, "s.toml", None).unwrap();
        assert_eq!(c.len(), 2);
        let mut v = [None; 16];
        v[0] = Some(20.0);
        v[4] = Some(0.6);
        let rows = [Row {
            point: None,
            policy: "fast",
            values: &v,
            namespaces: &[],
            summary: None,
        }];
        let f = failures(&c, &rows);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].contains("latency_p99_s <= 0.5"), "{f:?}");
    }

    #[test]
    fn a_missing_metric_names_the_real_cause() {
        let c = parse_checks(SRC, "s.toml", None).unwrap();
        let mut v = [None; 16];
        v[0] = Some(0.0);
        v[1] = Some(1234.0);
        assert_eq!(
            c[0].failure(&v).unwrap(),
            "latency_p99_s <= 0.5: no measured request completed (1234 dropped), so the run has no latency_p99_s"
        );
        v[0] = Some(5.0);
        assert!(c[0]
            .failure(&v)
            .unwrap()
            .contains("the run has no latency_p99_s (a metric of"));
    }

    #[test]
    fn bad_checks_name_the_key() {
        let e = parse_checks(
            &SRC.replace("latency_p99_s", "latncy_p99_s"),
            "s.toml",
            None,
        )
        .unwrap_err();
        assert_eq!(e.key, "check[0].metric");
        assert_eq!(e.line, Some(3));
        assert!(e.message.contains("did you mean `latency_p99_s`"), "{e}");
        let e = parse_checks(&SRC.replace("\"<=\"", "\"=<\""), "s.toml", None).unwrap_err();
        assert_eq!(e.key, "check[0].op");
        let e = parse_checks(&SRC.replace("policy", "point"), "s.toml", None).unwrap_err();
        assert_eq!(e.key, "check[1].point");
    }
}
