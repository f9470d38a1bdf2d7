//! Failures and self-healing: `[[failure]]` (scheduled node, GPU, zone and spot failures),
//! `[[random_failure]]` (seeded failures at a mean time between failures per node pool),
//! `[node_lifecycle]` (the node lifecycle controller's timings), `[pdb]` (a PodDisruptionBudget)
//! and `[traffic.client]` (client timeouts and retries with exponential backoff).

use super::model::Validator;
use super::raw::RawScenario;
use super::{ClusterSpec, ScenarioError};
use crate::engine::{parse_duration, SimDuration, SimTime};
use serde::Deserialize;

/// Upstream defaults this module applies.
pub mod defaults {
    use crate::engine::SimDuration;
    /// kube-controller-manager `--node-monitor-grace-period` (40 s; 50 s from Kubernetes 1.32).
    pub const NODE_MONITOR_GRACE: SimDuration = SimDuration::from_secs(40);
    /// `--default-unreachable-toleration-seconds` / `--default-not-ready-toleration-seconds`
    /// of the DefaultTolerationSeconds admission plugin (300 s).
    pub const TOLERATION: SimDuration = SimDuration::from_secs(300);
    /// The notice an AWS spot interruption gives (two minutes).
    pub const SPOT_NOTICE: SimDuration = SimDuration::from_secs(120);
    /// A probe's `failureThreshold` (3).
    pub const FAILURE_THRESHOLD: u32 = 3;
    /// Client backoff before the first retry.
    pub const BACKOFF: SimDuration = SimDuration::from_millis(100);
    /// Longest client backoff.
    pub const MAX_BACKOFF: SimDuration = SimDuration::from_secs(10);
}

/// `[[failure]]`: one scheduled failure.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFailure {
    /// When (a duration from the start).
    pub at: Option<String>,
    /// `node`, `gpu`, `zone` or `spot`.
    pub kind: Option<String>,
    /// The node pool (for `node`, `gpu` and `spot`).
    pub pool: Option<String>,
    /// Which of the pool's live nodes, in launch order (default 0).
    pub node: Option<u32>,
    /// Which of the node's pods loses its GPU or MIG slice, in binding order (`gpu`; default 0).
    pub gpu: Option<u32>,
    /// The zone (`zone`): nodes whose `topology.kubernetes.io/zone` label is this.
    pub zone: Option<String>,
    /// How long after the failure the node is back (`node`, `zone`; default: never).
    pub repair: Option<String>,
    /// The interruption notice (`spot`; default 2 minutes).
    pub notice: Option<String>,
}

/// `[[random_failure]]`: seeded failures of one pool's nodes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRandomFailure {
    /// The node pool.
    pub pool: Option<String>,
    /// `node` (default), `gpu` or `spot`.
    pub kind: Option<String>,
    /// Mean time between failures of one node.
    pub mtbf: Option<String>,
    /// How long after a `node` failure the node is back (default: never).
    pub repair: Option<String>,
    /// The interruption notice (`spot`; default 2 minutes).
    pub notice: Option<String>,
}

/// `[node_lifecycle]`: the node lifecycle controller and the pods' default tolerations.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawNodeLifecycle {
    /// How long a silent node stays Ready (default 40 s).
    pub node_monitor_grace_period: Option<String>,
    /// How long pods tolerate a NotReady/unreachable node before eviction, seconds (default 300).
    pub default_unreachable_toleration_seconds: Option<u64>,
}

/// `[pdb]`: a PodDisruptionBudget over the Deployment's pods.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPdb {
    /// `minAvailable`: a count or a percentage such as "50%".
    #[serde(rename = "minAvailable", alias = "min_available")]
    pub min_available: Option<toml::Value>,
    /// `maxUnavailable`: a count or a percentage.
    #[serde(rename = "maxUnavailable", alias = "max_unavailable")]
    pub max_unavailable: Option<toml::Value>,
}

/// `[traffic.client]`: what clients do when a request is slow or fails.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClient {
    /// How long a client waits for a response before it gives up (default: for ever).
    pub timeout: Option<String>,
    /// Retries after a timeout or a failed attempt (default 0).
    pub retries: Option<u32>,
    /// Whether a gateway refusal (HTTP 429: `rate_limited`, `token_limited`) is retried like
    /// any other failed attempt (default true).
    pub retry_rate_limited: Option<bool>,
    /// Wait before the first retry (default 100 ms); doubles on each further retry.
    pub backoff: Option<String>,
    /// Longest wait between retries (default 10 s).
    pub max_backoff: Option<String>,
    /// Randomisation of each wait: `none` (default), `full` or `equal`.
    pub jitter: Option<String>,
}

/// What fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// A node stops (kubelet silent): NotReady after the grace period, pods evicted later.
    Node,
    /// One GPU (or MIG slice) hits an XID-style fault: the pod using it hangs.
    Gpu,
    /// Every node of a zone fails as `Node`.
    Zone,
    /// A spot interruption: the node is drained during the notice, then terminated.
    Spot,
}

impl FailureKind {
    /// The name used in scenario files and outputs.
    pub fn name(self) -> &'static str {
        match self {
            FailureKind::Node => "node",
            FailureKind::Gpu => "gpu",
            FailureKind::Zone => "zone",
            FailureKind::Spot => "spot",
        }
    }
}

/// A validated scheduled failure.
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduledFailure {
    /// When.
    pub at: SimTime,
    /// What fails.
    pub kind: FailureKind,
    /// The pool's index (not for `Zone`).
    pub pool: Option<u32>,
    /// The node's position among the pool's live nodes.
    pub node: u32,
    /// The pod's position among the node's pods (`Gpu`).
    pub gpu: u32,
    /// The zone (`Zone`).
    pub zone: Option<String>,
    /// Time to repair, if the node comes back.
    pub repair: Option<SimDuration>,
    /// Spot notice.
    pub notice: SimDuration,
}

/// Validated random failures of one pool.
#[derive(Clone, Debug, PartialEq)]
pub struct RandomFailure {
    /// The pool's index.
    pub pool: u32,
    /// What fails (`Node`, `Gpu` or `Spot`).
    pub kind: FailureKind,
    /// Mean time between failures per node.
    pub mtbf: SimDuration,
    /// Time to repair, if the node comes back.
    pub repair: Option<SimDuration>,
    /// Spot notice.
    pub notice: SimDuration,
}

/// A PodDisruptionBudget's bound.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PdbBound {
    /// `minAvailable` pods (count).
    MinAvailable(u32),
    /// `minAvailable` as a percentage of desired replicas (rounded up, as upstream).
    MinAvailablePercent(u32),
    /// `maxUnavailable` pods (count).
    MaxUnavailable(u32),
    /// `maxUnavailable` as a percentage of desired replicas (rounded up, as upstream).
    MaxUnavailablePercent(u32),
}

impl PdbBound {
    /// Fewest healthy pods the budget lets voluntary evictions leave, for `desired` replicas.
    pub fn min_healthy(self, desired: u32) -> u32 {
        let pct = |p: u32| ((desired as u64 * p as u64).div_ceil(100)) as u32;
        match self {
            PdbBound::MinAvailable(n) => n,
            PdbBound::MinAvailablePercent(p) => pct(p),
            PdbBound::MaxUnavailable(n) => desired.saturating_sub(n),
            PdbBound::MaxUnavailablePercent(p) => desired.saturating_sub(pct(p)),
        }
    }
}

/// Client timeouts and retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientSpec {
    /// How long a client waits for a response.
    pub timeout: Option<SimDuration>,
    /// Retries after a timeout or a failed attempt.
    pub retries: u32,
    /// Wait before the first retry; doubles per retry.
    pub backoff: SimDuration,
    /// Longest wait.
    pub max_backoff: SimDuration,
    /// Whether a gateway refusal (HTTP 429) is retried (false: the request ends refused).
    pub retry_rate_limited: bool,
    /// How each wait is randomised.
    pub jitter: Jitter,
}

/// How a client randomises its backoff (the schemes of AWS's "Exponential Backoff and Jitter").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Jitter {
    /// The capped exponential wait itself: clients that failed together retry together.
    None,
    /// Uniform between 0 and the capped exponential wait.
    Full,
    /// Half the capped exponential wait plus a uniform draw up to the other half.
    Equal,
}

impl Jitter {
    /// The names a scenario uses, in order.
    pub const NAMES: [&'static str; 3] = ["none", "full", "equal"];

    /// The wait for a capped exponential wait `cap`, with `u` a uniform draw in [0, 1).
    pub fn apply(self, cap: SimDuration, u: f64) -> SimDuration {
        let c = cap.0 as f64;
        SimDuration(match self {
            Jitter::None => cap.0,
            Jitter::Full => (c * u) as u64,
            Jitter::Equal => cap.0 / 2 + (c / 2.0 * u) as u64,
        })
    }
}

impl ClientSpec {
    /// The wait before retry number `n` (1 for the first): `backoff * 2^(n-1)`, capped, before
    /// any jitter.
    pub fn backoff_before(&self, n: u32) -> SimDuration {
        let f = 1u64 << (n.saturating_sub(1)).min(40);
        SimDuration(self.backoff.0.saturating_mul(f).min(self.max_backoff.0))
    }
}

/// Everything about failures and self-healing in a scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct FailureSpec {
    /// Scheduled failures, in time order.
    pub scheduled: Vec<ScheduledFailure>,
    /// Random failures, per pool.
    pub random: Vec<RandomFailure>,
    /// `node-monitor-grace-period`.
    pub node_monitor_grace: SimDuration,
    /// Pods' toleration of a NotReady/unreachable node.
    pub toleration: SimDuration,
    /// The PodDisruptionBudget, if any.
    pub pdb: Option<PdbBound>,
    /// Client behaviour, if any.
    pub client: Option<ClientSpec>,
}

impl Default for FailureSpec {
    fn default() -> Self {
        FailureSpec {
            scheduled: Vec::new(),
            random: Vec::new(),
            node_monitor_grace: defaults::NODE_MONITOR_GRACE,
            toleration: defaults::TOLERATION,
            pdb: None,
            client: None,
        }
    }
}

impl FailureSpec {
    /// Whether any node, GPU or zone can fail.
    pub fn any(&self) -> bool {
        !self.scheduled.is_empty() || !self.random.is_empty()
    }
}

fn kind_of(v: &Validator<'_>, key: &str, s: Option<&String>) -> Result<FailureKind, ScenarioError> {
    let s = v.required(key, s, "`kind`: \"node\", \"gpu\", \"zone\" or \"spot\"")?;
    Ok(match s.as_str() {
        "node" => FailureKind::Node,
        "gpu" => FailureKind::Gpu,
        "zone" => FailureKind::Zone,
        "spot" => FailureKind::Spot,
        other => {
            return Err(v.err(
                key,
                format!("expected \"node\", \"gpu\", \"zone\" or \"spot\", found \"{other}\""),
            ))
        }
    })
}

impl Validator<'_> {
    /// A probe's `failureThreshold` (at least 1; default 3).
    pub(super) fn failure_threshold(
        &self,
        key: &str,
        p: &super::raw::RawProbe,
    ) -> Result<u32, ScenarioError> {
        match p.failure_threshold {
            None => Ok(defaults::FAILURE_THRESHOLD),
            Some(0) => Err(self.err(
                &format!("{key}.failureThreshold"),
                "expected a threshold of at least 1",
            )),
            Some(n) => Ok(n),
        }
    }

    fn pool_index(
        &self,
        key: &str,
        name: Option<&String>,
        cluster: Option<&ClusterSpec>,
    ) -> Result<u32, ScenarioError> {
        let name = self.required(key, name, "`pool`, the name of a [[node_pool]]")?;
        let pools = cluster.map(|c| c.pools.as_slice()).unwrap_or_default();
        match pools.iter().position(|p| &p.name == name) {
            Some(i) => Ok(i as u32),
            None => {
                let names: Vec<&str> = pools.iter().map(|p| p.name.as_str()).collect();
                let hint = super::error::closest(name, &names)
                    .map(|c| format!(" (did you mean \"{c}\"?)"))
                    .unwrap_or_default();
                Err(self.err(
                    key,
                    format!("no [[node_pool]] is named \"{name}\"{hint}; pools: {names:?}"),
                ))
            }
        }
    }

    fn opt_duration(
        &self,
        key: &str,
        v: Option<&String>,
    ) -> Result<Option<SimDuration>, ScenarioError> {
        v.map(|s| parse_duration(s).map_err(|e| self.err(key, e.0)))
            .transpose()
    }

    fn pdb_value(&self, key: &str, v: &toml::Value) -> Result<(u32, bool), ScenarioError> {
        match v {
            toml::Value::Integer(n) if *n >= 0 && *n <= u32::MAX as i64 => Ok((*n as u32, false)),
            toml::Value::String(s) if s.ends_with('%') => {
                match s[..s.len() - 1].trim().parse::<u32>() {
                    Ok(p) if p <= 100 => Ok((p, true)),
                    _ => Err(self.err(
                        key,
                        format!("expected a percentage from 0% to 100%, found \"{s}\""),
                    )),
                }
            }
            _ => Err(self.err(
                key,
                "expected a pod count (an integer, not negative) or a percentage such as \"50%\"",
            )),
        }
    }

    /// The failure keys of a scenario.
    pub(super) fn failures(
        &self,
        raw: &RawScenario,
        cluster: Option<&ClusterSpec>,
    ) -> Result<FailureSpec, ScenarioError> {
        let mut spec = FailureSpec::default();
        for (i, f) in raw.failure.iter().flatten().enumerate() {
            let k = format!("failure[{i}]");
            let at = self.required(
                &format!("{k}.at"),
                f.at.as_ref(),
                "`at`, a duration from the start",
            )?;
            let at = SimTime(
                parse_duration(at)
                    .map_err(|e| self.err(&format!("{k}.at"), e.0))?
                    .0,
            );
            let kind = kind_of(self, &format!("{k}.kind"), f.kind.as_ref())?;
            if cluster.is_none() {
                return Err(self.err(&k, "failures need [[node_pool]]s (pods on nodes) to fail"));
            }
            let (pool, zone) = if kind == FailureKind::Zone {
                if f.pool.is_some() || f.node.is_some() {
                    return Err(self.err(&k, "a zone failure takes every node of the zone: give `zone`, not `pool` or `node`"));
                }
                let z = self.required(
                    &format!("{k}.zone"),
                    f.zone.as_ref(),
                    "`zone`, a topology.kubernetes.io/zone label value",
                )?;
                (None, Some(z.clone()))
            } else {
                if f.zone.is_some() {
                    return Err(self.err(
                        &format!("{k}.zone"),
                        "`zone` applies only with kind = \"zone\"",
                    ));
                }
                (
                    Some(self.pool_index(&format!("{k}.pool"), f.pool.as_ref(), cluster)?),
                    None,
                )
            };
            if f.gpu.is_some() && kind != FailureKind::Gpu {
                return Err(self.err(
                    &format!("{k}.gpu"),
                    "`gpu` applies only with kind = \"gpu\"",
                ));
            }
            if f.notice.is_some() && kind != FailureKind::Spot {
                return Err(self.err(
                    &format!("{k}.notice"),
                    "`notice` applies only with kind = \"spot\"",
                ));
            }
            if f.repair.is_some() && !matches!(kind, FailureKind::Node | FailureKind::Zone) {
                return Err(self.err(
                    &format!("{k}.repair"),
                    "`repair` applies only to kind = \"node\" or \"zone\"",
                ));
            }
            if spec
                .scheduled
                .last()
                .is_some_and(|p: &ScheduledFailure| p.at > at)
            {
                return Err(self.err(&format!("{k}.at"), "expected failures in order of `at`"));
            }
            spec.scheduled.push(ScheduledFailure {
                at,
                kind,
                pool,
                node: f.node.unwrap_or(0),
                gpu: f.gpu.unwrap_or(0),
                zone,
                repair: self.opt_duration(&format!("{k}.repair"), f.repair.as_ref())?,
                notice: self
                    .opt_duration(&format!("{k}.notice"), f.notice.as_ref())?
                    .unwrap_or(defaults::SPOT_NOTICE),
            });
        }
        for (i, f) in raw.random_failure.iter().flatten().enumerate() {
            let k = format!("random_failure[{i}]");
            if cluster.is_none() {
                return Err(self.err(&k, "failures need [[node_pool]]s (pods on nodes) to fail"));
            }
            let pool = self.pool_index(&format!("{k}.pool"), f.pool.as_ref(), cluster)?;
            let kind = match f.kind.as_deref() {
                None => FailureKind::Node,
                Some(_) => kind_of(self, &format!("{k}.kind"), f.kind.as_ref())?,
            };
            if kind == FailureKind::Zone {
                return Err(self.err(&format!("{k}.kind"), "random failures take \"node\", \"gpu\" or \"spot\" (schedule a zone outage with [[failure]])"));
            }
            let mtbf = self.required(
                &format!("{k}.mtbf"),
                f.mtbf.as_ref(),
                "`mtbf`, the mean time between failures of one node",
            )?;
            let mtbf = parse_duration(mtbf).map_err(|e| self.err(&format!("{k}.mtbf"), e.0))?;
            if mtbf == SimDuration::ZERO {
                return Err(self.err(
                    &format!("{k}.mtbf"),
                    "expected a mean time between failures longer than zero",
                ));
            }
            if f.repair.is_some() && kind != FailureKind::Node {
                return Err(self.err(
                    &format!("{k}.repair"),
                    "`repair` applies only to kind = \"node\"",
                ));
            }
            spec.random.push(RandomFailure {
                pool,
                kind,
                mtbf,
                repair: self.opt_duration(&format!("{k}.repair"), f.repair.as_ref())?,
                notice: self
                    .opt_duration(&format!("{k}.notice"), f.notice.as_ref())?
                    .unwrap_or(defaults::SPOT_NOTICE),
            });
        }
        if let Some(l) = &raw.node_lifecycle {
            spec.node_monitor_grace = self.duration(
                "node_lifecycle.node-monitor-grace-period",
                l.node_monitor_grace_period.as_ref(),
                defaults::NODE_MONITOR_GRACE,
            )?;
            if let Some(s) = l.default_unreachable_toleration_seconds {
                spec.toleration = SimDuration::from_secs(s);
            }
        }
        if let Some(p) = &raw.pdb {
            spec.pdb = Some(match (&p.min_available, &p.max_unavailable) {
                (Some(v), None) => match self.pdb_value("pdb.minAvailable", v)? {
                    (n, false) => PdbBound::MinAvailable(n),
                    (n, true) => PdbBound::MinAvailablePercent(n),
                },
                (None, Some(v)) => match self.pdb_value("pdb.maxUnavailable", v)? {
                    (n, false) => PdbBound::MaxUnavailable(n),
                    (n, true) => PdbBound::MaxUnavailablePercent(n),
                },
                (Some(_), Some(_)) => {
                    return Err(self.err("pdb", "a PodDisruptionBudget takes one of `minAvailable` and `maxUnavailable`, not both"))
                }
                (None, None) => {
                    return Err(self.err("pdb", "missing: expected `minAvailable` or `maxUnavailable`"))
                }
            });
        }
        for (i, st) in raw
            .traffic
            .iter()
            .flat_map(|t| t.stream.iter().flatten())
            .enumerate()
        {
            if st.client.is_some() {
                return Err(self.err(
                    &format!("traffic.stream[{i}].client"),
                    "client timeouts and retries apply to the whole traffic: set [traffic.client]",
                ));
            }
        }
        if let Some(c) = raw.traffic.as_ref().and_then(|t| t.client.as_ref()) {
            let k = "traffic.client";
            let timeout = self.opt_duration(&format!("{k}.timeout"), c.timeout.as_ref())?;
            if timeout == Some(SimDuration::ZERO) {
                return Err(self.err(
                    &format!("{k}.timeout"),
                    "expected a timeout longer than zero",
                ));
            }
            let backoff = self.duration(
                &format!("{k}.backoff"),
                c.backoff.as_ref(),
                defaults::BACKOFF,
            )?;
            let max_backoff = self.duration(
                &format!("{k}.max_backoff"),
                c.max_backoff.as_ref(),
                defaults::MAX_BACKOFF.max(backoff),
            )?;
            if max_backoff < backoff {
                return Err(self.err(
                    &format!("{k}.max_backoff"),
                    "expected a longest backoff no shorter than `backoff`",
                ));
            }
            let jitter = match c.jitter.as_deref() {
                None | Some("none") => Jitter::None,
                Some("full") => Jitter::Full,
                Some("equal") => Jitter::Equal,
                Some(other) => {
                    let hint = super::error::closest(other, &Jitter::NAMES)
                        .map(|c| format!(" (did you mean \"{c}\"?)"))
                        .unwrap_or_default();
                    return Err(self.err(
                        &format!("{k}.jitter"),
                        format!("unknown jitter \"{other}\"{hint}: expected \"none\", \"full\" or \"equal\""),
                    ));
                }
            };
            spec.client = Some(ClientSpec {
                timeout,
                retries: c.retries.unwrap_or(0),
                backoff,
                max_backoff,
                retry_rate_limited: c.retry_rate_limited.unwrap_or(true),
                jitter,
            });
        }
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdb_bounds_round_percentages_up_as_upstream() {
        assert_eq!(PdbBound::MinAvailable(3).min_healthy(4), 3);
        assert_eq!(PdbBound::MinAvailablePercent(50).min_healthy(5), 3);
        assert_eq!(PdbBound::MaxUnavailable(1).min_healthy(4), 3);
        // maxUnavailable 30% of 5 = 1.5, rounded up to 2: at least 3 healthy.
        assert_eq!(PdbBound::MaxUnavailablePercent(30).min_healthy(5), 3);
        assert_eq!(PdbBound::MaxUnavailable(9).min_healthy(4), 0);
    }

    #[test]
    fn jitter_schemes_stay_within_their_bounds() {
        let cap = SimDuration::from_secs(8);
        for (u, full, equal) in [(0.0, 0, 4), (0.5, 4, 6), (0.999_999_999_9, 7, 7)] {
            assert_eq!(Jitter::None.apply(cap, u), cap);
            assert_eq!(Jitter::Full.apply(cap, u).0 / 1_000_000_000, full);
            assert_eq!(Jitter::Equal.apply(cap, u).0 / 1_000_000_000, equal);
        }
    }

    #[test]
    fn client_backoff_doubles_up_to_its_cap() {
        let c = ClientSpec {
            timeout: None,
            retries: 5,
            backoff: SimDuration::from_secs(1),
            max_backoff: SimDuration::from_secs(5),
            retry_rate_limited: true,
            jitter: Jitter::None,
        };
        let waits: Vec<u64> = (1..=5)
            .map(|n| c.backoff_before(n).0 / 1_000_000_000)
            .collect();
        assert_eq!(waits, [1, 2, 4, 5, 5]);
    }
}
