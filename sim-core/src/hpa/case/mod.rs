//! CASE files for `capsim hpa-eval`, the HPA dry-run calculator: reading one (with errors that
//! name the file, line:column and key), running its stage, and writing the report.
//!
//! Every time in a CASE is RFC 3339 or an offset from `now` (`"-3m"`, `"+30s"`, `"0s"`, `"now"`).
//! Internally `now` is the epoch, so times up to ±292 years from `now` are exact; earlier ones
//! (such as Go's zero time, the default of start times and sample timestamps) are clamped to the
//! earliest representable instant, which orders them the same way.

pub mod raw;

use super::config::ControllerConfig;
use super::metrics::{compute_replicas_for_metric, tolerances};
use super::normalize::{convert_with_behavior_rate, convert_with_rules};
use super::reconcile::reconcile;
use super::replica_calculator::milli;
use super::spec::{Hpa, Target};
use super::stabilize::{stabilize_recommendation, stabilize_with_behaviors};
use super::state::*;
use super::{rfc3339, spec::Metric};
use crate::engine::parse_duration;
use crate::scenario::error::ScenarioError;
use crate::scenario::model::parse_raw;
use raw::*;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Why a CASE produced no result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaseError {
    /// The file is malformed: file, line:column, key and what was expected.
    Input(ScenarioError),
    /// The HPA itself fails, with upstream's message (e.g. a container without a request).
    Hpa(String),
}

impl std::fmt::Display for CaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CaseError::Input(e) => write!(f, "{e}"),
            CaseError::Hpa(m) => f.write_str(m),
        }
    }
}

/// Go's zero `time.Time` (0001-01-01T00:00:00Z) in nanoseconds since the Unix epoch.
const GO_ZERO_TIME: i128 = -62_135_596_800 * 1_000_000_000;

/// Default sample window (upstream's test harness uses one minute).
const DEFAULT_WINDOW: Nanos = 60 * SECOND;

/// A checked CASE, ready to run.
#[derive(Clone, Debug)]
pub struct Case {
    /// Which stage to run.
    pub stage: Stage,
    /// `now`, nanoseconds since the Unix epoch.
    pub now_abs: i128,
    /// Controller flags.
    pub config: ControllerConfig,
    /// The checked HPA.
    pub hpa: Hpa,
    /// Pods, metrics and the scale subresource (times relative to `now`).
    pub observation: Observation,
    /// `state.desiredReplicas`.
    pub desired: Option<i32>,
    /// `[history]` (times relative to `now`).
    pub history: HpaHistory,
}

struct Reader<'a> {
    file: &'a str,
    source: &'a str,
    now: i128,
}

impl Reader<'_> {
    fn err(&self, key: &str, message: impl Into<String>) -> CaseError {
        CaseError::Input(ScenarioError::at_key(self.file, self.source, key, message))
    }

    /// An absolute RFC 3339 time or an offset from `now`, relative to `now`.
    fn time(&self, key: &str, text: &str) -> Result<Nanos, CaseError> {
        let t = text.trim();
        let abs = if t == "now" {
            self.now
        } else if !(t.len() >= 10 && t.as_bytes()[4] == b'-') {
            let (sign, body) = match t.as_bytes()[0] {
                b'-' => (-1, &t[1..]),
                b'+' => (1, &t[1..]),
                _ => (1, t),
            };
            let d = parse_duration(body).map_err(|e| {
                self.err(
                    key,
                    format!(
                        "expected an RFC 3339 time or an offset from `now` such as \"-3m\": {e}"
                    ),
                )
            })?;
            self.now + sign * d.0 as i128
        } else {
            rfc3339::parse(t).map_err(|e| self.err(key, e))?
        };
        Ok(clamp(abs - self.now))
    }

    fn duration(&self, key: &str, d: &RawDuration) -> Result<Nanos, CaseError> {
        match d {
            RawDuration::Seconds(s) if *s >= 0 => Ok(s.saturating_mul(SECOND)),
            RawDuration::Seconds(s) => Err(self.err(
                key,
                format!("expected a duration that is not negative, found {s}"),
            )),
            RawDuration::Text(t) => parse_duration(t)
                .map(|d| clamp(d.0 as i128))
                .map_err(|e| self.err(key, e.0)),
        }
    }

    /// An age: `"2m"`, `"-2m"` or seconds, all meaning that long before `now`.
    fn age(&self, key: &str, d: &RawDuration) -> Result<Nanos, CaseError> {
        match d {
            RawDuration::Seconds(s) => {
                Ok(-(s.unsigned_abs().min(i64::MAX as u64) as i64).saturating_mul(SECOND))
            }
            RawDuration::Text(t) => {
                let body = t.trim().trim_start_matches(['-', '+']);
                parse_duration(body)
                    .map(|d| -clamp(d.0 as i128))
                    .map_err(|e| self.err(key, e.0))
            }
        }
    }
}

fn clamp(v: i128) -> Nanos {
    v.clamp(i64::MIN as i128, i64::MAX as i128) as Nanos
}

/// Reads and checks a CASE file (`file` names it in errors).
pub fn parse_case(source: &str, file: &str) -> Result<Case, CaseError> {
    let raw: RawCase = parse_raw(source, file).map_err(|mut e| {
        if e.message.contains("untagged enum RawSample") {
            e.message =
                "expected a quantity such as \"300m\", or a table { value, timestamp, window }"
                    .into();
        } else if e.message.contains("untagged enum RawDuration") {
            e.message =
                "expected a duration such as \"30s\" or \"5m\", or a number of seconds".into();
        } else if e.message.contains("untagged enum RawReady") {
            e.message = "expected true, false, \"True\", \"False\", \"Unknown\" or \"None\"".into();
        }
        if e.line.is_none() && !e.key.is_empty() {
            e = ScenarioError::at_key(file, source, &e.key, e.message);
        }
        CaseError::Input(e)
    })?;
    let now = rfc3339::parse(raw.now.trim())
        .map_err(|e| CaseError::Input(ScenarioError::at_key(file, source, "now", e)))?;
    let r = Reader { file, source, now };
    let mut config = ControllerConfig::default();
    if let Some(c) = &raw.controller {
        if let Some(t) = c.tolerance {
            if !(t.is_finite() && t >= 0.0) {
                return Err(r.err(
                    "controller.tolerance",
                    format!("expected a tolerance that is finite and not negative, found {t}"),
                ));
            }
            config.tolerance = t;
        }
        let fields = [
            (
                &c.cpu_initialization_period,
                "cpuInitializationPeriod",
                &mut config.cpu_initialization_period,
            ),
            (
                &c.initial_readiness_delay,
                "initialReadinessDelay",
                &mut config.initial_readiness_delay,
            ),
            (
                &c.downscale_stabilization,
                "downscaleStabilization",
                &mut config.downscale_stabilization,
            ),
            (&c.sync_period, "syncPeriod", &mut config.sync_period),
        ];
        for (v, name, slot) in fields {
            if let Some(d) = v {
                *slot = r.duration(&format!("controller.{name}"), d)?;
            }
        }
    }
    let window_s = (config.downscale_stabilization / SECOND).clamp(0, i32::MAX as i64) as i32;
    let hpa = raw
        .hpa
        .check(window_s)
        .map_err(|e| r.err(&format!("hpa.{}", e.key), e.message))?;
    let st = &raw.state;
    for (v, k) in [
        (Some(st.spec_replicas), "specReplicas"),
        (st.status_replicas, "statusReplicas"),
        (st.desired_replicas, "desiredReplicas"),
    ] {
        if let Some(v) = v {
            if v < 0 {
                return Err(r.err(
                    &format!("state.{k}"),
                    format!("expected a replica count that is not negative, found {v}"),
                ));
            }
        }
    }
    let mut pods = Vec::new();
    for (i, p) in st.pods.iter().flatten().enumerate() {
        let pod = read_pod(&r, i, p)?;
        if pods.iter().any(|q: &PodState| q.name == pod.name) {
            return Err(r.err(
                &format!("state.pods[{i}].name"),
                format!("pod name `{}` is used twice", pod.name),
            ));
        }
        pods.push(pod);
    }
    let status = st.status_replicas.unwrap_or(st.spec_replicas);
    let named = |list: &Option<Vec<RawNamed>>, key: &str| -> Result<Vec<NamedValue>, CaseError> {
        let mut out = Vec::new();
        for (i, n) in list.iter().flatten().enumerate() {
            let value = match (n.value, n.average_value) {
                (Some(v), None) => v.0,
                (None, Some(a)) => a.0.saturating_mul(i64::from(status)),
                _ => {
                    return Err(r.err(
                        &format!("state.{key}[{i}]"),
                        "expected exactly one of `value` or `averageValue`",
                    ))
                }
            };
            out.push(NamedValue {
                name: n.name.clone(),
                value,
            });
        }
        Ok(out)
    };
    let observation = Observation {
        now: 0,
        spec_replicas: st.spec_replicas,
        status_replicas: status,
        pods,
        object_metrics: named(&st.object_metrics, "objectMetrics")?,
        external_metrics: named(&st.external_metrics, "externalMetrics")?,
    };
    let mut history = HpaHistory::default();
    if let Some(h) = &raw.history {
        if let Some(recs) = &h.recommendations {
            let mut v = Vec::new();
            for (i, e) in recs.iter().enumerate() {
                let key = format!("history.recommendations[{i}]");
                let replicas = e
                    .replicas
                    .ok_or_else(|| r.err(&key, "missing: expected `replicas`"))?;
                if e.change.is_some() || e.outdated.is_some() {
                    return Err(r.err(
                        &key,
                        "a recommendation has `replicas` and `age` (or `at`) only",
                    ));
                }
                v.push(Recommendation {
                    replicas,
                    at: entry_time(&r, &key, e)?,
                });
            }
            history.recommendations = Some(v);
        }
        for (list, name, slot) in [
            (
                &h.scale_up_events,
                "scaleUpEvents",
                &mut history.scale_up_events,
            ),
            (
                &h.scale_down_events,
                "scaleDownEvents",
                &mut history.scale_down_events,
            ),
        ] {
            for (i, e) in list.iter().flatten().enumerate() {
                let key = format!("history.{name}[{i}]");
                let change = e
                    .change
                    .ok_or_else(|| r.err(&key, "missing: expected `change`"))?;
                if e.replicas.is_some() {
                    return Err(r.err(&key, "a scale event has `change`, not `replicas`"));
                }
                if change < 0 {
                    return Err(r.err(
                        &format!("{key}.change"),
                        "expected a change that is not negative (events store absolute changes)",
                    ));
                }
                slot.push(ScaleEvent {
                    change,
                    at: entry_time(&r, &key, e)?,
                    outdated: e.outdated.unwrap_or(false),
                });
            }
        }
    }
    let stage = raw.stage.unwrap_or_default();
    if matches!(stage, Stage::Normalize | Stage::Stabilize) && st.desired_replicas.is_none() {
        return Err(r.err("state", "missing `desiredReplicas`: stages `normalize` and `stabilize` start from the pre-normalisation recommendation"));
    }
    Ok(Case {
        stage,
        now_abs: now,
        config,
        hpa,
        observation,
        desired: st.desired_replicas,
        history,
    })
}

fn entry_time(r: &Reader<'_>, key: &str, e: &RawEntry) -> Result<Nanos, CaseError> {
    match (&e.age, &e.at) {
        (Some(a), None) => r.age(&format!("{key}.age"), a),
        (None, Some(t)) => r.time(&format!("{key}.at"), t),
        _ => Err(r.err(
            key,
            "expected exactly one of `age` (such as \"2m\") or `at`",
        )),
    }
}

fn read_pod(r: &Reader<'_>, i: usize, p: &RawPod) -> Result<PodState, CaseError> {
    let key = |k: &str| format!("state.pods[{i}].{k}");
    let phase = match p
        .phase
        .as_deref()
        .unwrap_or("Running")
        .to_ascii_lowercase()
        .as_str()
    {
        "running" => PodPhase::Running,
        "pending" => PodPhase::Pending,
        "succeeded" => PodPhase::Succeeded,
        "failed" => PodPhase::Failed,
        "unknown" => PodPhase::Unknown,
        other => {
            return Err(r.err(
                &key("phase"),
                format!(
                    "expected Running, Pending, Succeeded, Failed or Unknown, found \"{other}\""
                ),
            ))
        }
    };
    let ready = match &p.ready {
        None | Some(RawReady::Bool(true)) => Some(ConditionStatus::True),
        Some(RawReady::Bool(false)) => Some(ConditionStatus::False),
        Some(RawReady::Text(t)) => match t.as_str() {
            "True" | "true" => Some(ConditionStatus::True),
            "False" | "false" => Some(ConditionStatus::False),
            "Unknown" => Some(ConditionStatus::Unknown),
            "None" | "none" => None,
            other => return Err(r.err(&key("ready"), format!("expected true, false, \"True\", \"False\", \"Unknown\" or \"None\" (no Ready condition), found \"{other}\""))),
        },
    };
    let zero = clamp(GO_ZERO_TIME - r.now);
    let time_or = |k: &str, v: &Option<String>| -> Result<Nanos, CaseError> {
        v.as_deref().map_or(Ok(zero), |t| r.time(&key(k), t))
    };
    let ready_transition = time_or("readyTransition", &p.ready_transition)?;
    let start = match p.start.as_deref() {
        Some("none" | "None") => None,
        _ => Some(time_or("start", &p.start)?),
    };
    let q =
        |m: &Option<BTreeMap<String, crate::hpa::spec::MilliQuantity>>| -> BTreeMap<String, i64> {
            m.iter().flatten().map(|(k, v)| (k.clone(), v.0)).collect()
        };
    let mut containers = Vec::new();
    for (list, init) in [(&p.containers, false), (&p.init_containers, true)] {
        for (j, c) in list.iter().flatten().enumerate() {
            let kind = match (init, c.restart_policy.as_deref()) {
                (false, None) => ContainerKind::Regular,
                (false, Some(_)) => {
                    return Err(r.err(
                        &key(&format!("containers[{j}].restartPolicy")),
                        "only init containers take `restartPolicy` here",
                    ))
                }
                (true, Some("Always")) => ContainerKind::RestartableInit,
                (true, None) => ContainerKind::Init,
                (true, Some(other)) => {
                    return Err(r.err(
                        &key(&format!("initContainers[{j}].restartPolicy")),
                        format!("expected \"Always\" (or no restartPolicy), found \"{other}\""),
                    ))
                }
            };
            let name = c.name.clone().unwrap_or_else(|| {
                if init {
                    format!("init{j}")
                } else {
                    format!("c{j}")
                }
            });
            containers.push(ContainerState {
                name,
                kind,
                requests: q(&c.requests),
                usage: q(&c.usage),
            });
        }
    }
    let mut metrics = BTreeMap::new();
    for (name, s) in p.metrics.iter().flatten() {
        let k = key(&format!("metrics.\"{name}\""));
        let sample = match s {
            RawSample::Value(v) => MetricSample {
                value: Some(v.0),
                timestamp: zero,
                window: DEFAULT_WINDOW,
            },
            RawSample::Full(t) => MetricSample {
                value: t.value.map(|v| v.0),
                timestamp: t
                    .timestamp
                    .as_deref()
                    .map_or(Ok(zero), |x| r.time(&format!("{k}.timestamp"), x))?,
                window: t.window.as_ref().map_or(Ok(DEFAULT_WINDOW), |w| {
                    r.duration(&format!("{k}.window"), w)
                })?,
            },
        };
        metrics.insert(name.clone(), sample);
    }
    Ok(PodState {
        name: p.name.clone().unwrap_or_else(|| format!("pod-{i}")),
        listed: p.listed.unwrap_or(true),
        phase,
        ready,
        ready_transition,
        start,
        deleting: p.deleting.unwrap_or(false),
        containers,
        pod_requests: p
            .requests
            .as_ref()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.0)).collect()),
        metrics,
        usage_sample: (zero, DEFAULT_WINDOW),
    })
}

/// An offset from `now` written like the CASE's offsets (`0s`, `-2m`, `-1m30s`, `+1.5s`).
pub fn format_offset(ns: Nanos) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let sign = if ns < 0 { "-" } else { "+" };
    let a = ns.unsigned_abs();
    let s_total = a / SECOND as u64;
    let frac = a % SECOND as u64;
    let (h, m, s) = (s_total / 3600, s_total / 60 % 60, s_total % 60);
    let mut out = String::from(sign);
    if h > 0 {
        let _ = write!(out, "{h}h");
    }
    if m > 0 {
        let _ = write!(out, "{m}m");
    }
    if s > 0 || frac > 0 || (h == 0 && m == 0) {
        if frac > 0 {
            let f = format!("{frac:09}");
            let _ = write!(out, "{s}.{}s", f.trim_end_matches('0'));
        } else {
            let _ = write!(out, "{s}s");
        }
    }
    out
}

/// Runs the CASE's stage and returns the report: `desired_replicas=N reason=R` (for `replicas`,
/// then ` utilization=U` or ` usage=U`), the stored recommendations and scale events, and an
/// explanation.
pub fn run(case: &Case) -> Result<String, CaseError> {
    let mut history = case.history.clone();
    let obs = &case.observation;
    let hpa = &case.hpa;
    let cfg = &case.config;
    let mut lines: Vec<String> = Vec::new();
    let first;
    match case.stage {
        Stage::Reconcile => {
            let out =
                reconcile(hpa, cfg, obs, &mut history).map_err(|e| CaseError::Hpa(e.message))?;
            first = format!("desired_replicas={} reason={}", out.desired, out.reason);
            lines.extend(out.explanation);
            if let Some(a) = out.able_reason {
                lines.push(format!("AbleToScale reason: {a}"));
            }
        }
        Stage::Replicas => {
            let metric = &hpa.metrics[0];
            let res = compute_replicas_for_metric(metric, obs, cfg, tolerances(hpa, cfg))
                .map_err(|e| CaseError::Hpa(e.message))?;
            let extra = match (metric, res.utilization) {
                (_, Some(u)) => format!("utilization={u}"),
                _ => format!("usage={}", res.usage),
            };
            first = format!(
                "desired_replicas={} reason=ValidMetricFound {extra}",
                res.replicas
            );
            lines.push(format!(
                "metric {}: current replicas {}",
                metric.describe(),
                replicas_used(metric, obs)
            ));
            if res.utilization.is_some() {
                lines.push(format!("raw average usage {} per pod", milli(res.usage)));
            }
            lines.extend(res.detail);
        }
        Stage::Normalize => {
            let desired = case.desired.expect("checked when parsed");
            let cur = obs.spec_replicas;
            let l = match &hpa.behavior {
                None => {
                    lines.push(format!(
                        "no behavior: scale-up limit max(2 x {cur}, 4), then min {} / max {}",
                        hpa.min_replicas, hpa.max_replicas
                    ));
                    convert_with_rules(cur, desired, hpa.min_replicas, hpa.max_replicas)
                }
                Some(b) => {
                    lines.push(
                        "behavior: policies over their periods, using the stored scale events"
                            .to_string(),
                    );
                    convert_with_behavior_rate(
                        cur,
                        desired,
                        hpa.min_replicas,
                        hpa.max_replicas,
                        b,
                        &history,
                        obs.now,
                    )
                }
            };
            lines.push(format!("{desired} -> {} ({})", l.replicas, l.message));
            first = format!("desired_replicas={} reason={}", l.replicas, l.reason);
        }
        Stage::Stabilize => {
            let desired = case.desired.expect("checked when parsed");
            let cur = obs.spec_replicas;
            let recs = history.recommendations.get_or_insert_with(Vec::new);
            let (v, why) = match &hpa.behavior {
                None => {
                    let w = cfg.downscale_stabilization;
                    lines.push(format!(
                        "no behavior: highest recommendation of the last {}",
                        format_offset(w).trim_start_matches('+')
                    ));
                    (
                        stabilize_recommendation(recs, obs.now, w, desired),
                        "ScaleDownStabilized",
                    )
                }
                Some(b) => {
                    lines.push(format!(
                        "behavior: scale-up window {} s (lowest), scale-down window {} s (highest)",
                        b.scale_up.stabilization_window_seconds,
                        b.scale_down.stabilization_window_seconds
                    ));
                    stabilize_with_behaviors(
                        recs,
                        obs.now,
                        cur,
                        desired,
                        b.scale_up.window(),
                        b.scale_down.window(),
                    )
                }
            };
            let reason = if v != desired {
                why
            } else {
                "ReadyForNewScale"
            };
            lines.push(format!("{desired} -> {v}"));
            first = format!("desired_replicas={v} reason={reason}");
        }
    }
    let mut out = first;
    out.push('\n');
    let recs = history.recommendations.as_deref().unwrap_or(&[]);
    let list: Vec<String> = recs
        .iter()
        .map(|r| format!("{}@{}", r.replicas, format_offset(r.at)))
        .collect();
    let _ = writeln!(out, "recommendations=[{}]", list.join(" "));
    for (name, ev) in [
        ("scale_up_events", &history.scale_up_events),
        ("scale_down_events", &history.scale_down_events),
    ] {
        let list: Vec<String> = ev
            .iter()
            .map(|e| {
                format!(
                    "{}@{}{}",
                    e.change,
                    format_offset(e.at),
                    if e.outdated { "(outdated)" } else { "" }
                )
            })
            .collect();
        let _ = writeln!(out, "{name}=[{}]", list.join(" "));
    }
    let _ = writeln!(out, "now={}", rfc3339::format(case.now_abs));
    out.push_str("explanation:\n");
    for l in lines {
        let _ = writeln!(out, "  {l}");
    }
    Ok(out)
}

fn replicas_used(metric: &Metric, obs: &Observation) -> String {
    match metric {
        Metric::Object {
            target: Target::AverageValue(_),
            ..
        }
        | Metric::External {
            target: Target::AverageValue(_),
            ..
        } => {
            format!("{} (status)", obs.status_replicas)
        }
        _ => format!("{} (spec)", obs.spec_replicas),
    }
}

/// Reads and runs a CASE: the report text, or the error.
pub fn run_case(source: &str, file: &str) -> Result<String, CaseError> {
    run(&parse_case(source, file)?)
}
