//! The VPA updater's rules: which pods need new requests and in what order (upstream
//! `priority/update_priority_calculator.go`), and how many may be evicted at once
//! (`restriction/pods_restriction_factory.go`).

use super::recommender::Recommendation;

/// `updatePolicy.updateMode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateMode {
    /// Recommend only.
    Off,
    /// Apply at pod creation only.
    Initial,
    /// Apply at creation and evict pods whose requests are off.
    Recreate,
    /// Deprecated upstream; the same as Recreate.
    Auto,
    /// Resize in place where the node has room, else evict.
    InPlaceOrRecreate,
}

impl UpdateMode {
    /// Every mode, with its upstream name.
    pub const ALL: [(&'static str, UpdateMode); 5] = [
        ("Off", UpdateMode::Off),
        ("Initial", UpdateMode::Initial),
        ("Recreate", UpdateMode::Recreate),
        ("Auto", UpdateMode::Auto),
        ("InPlaceOrRecreate", UpdateMode::InPlaceOrRecreate),
    ];

    /// The upstream name.
    pub fn name(self) -> &'static str {
        UpdateMode::ALL
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("Off", |(n, _)| n)
    }

    /// Whether the updater acts on running pods.
    pub fn updates_running_pods(self) -> bool {
        matches!(
            self,
            UpdateMode::Recreate | UpdateMode::Auto | UpdateMode::InPlaceOrRecreate
        )
    }
}

/// The updater's flags, upstream defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UpdaterConfig {
    /// `--updater-interval` (1 min), nanoseconds.
    pub interval_ns: i64,
    /// `--min-replicas` (2); `updatePolicy.minReplicas` overrides it.
    pub min_replicas: u32,
    /// `--eviction-tolerance` (0.5).
    pub eviction_tolerance: f64,
    /// `--pod-update-threshold` (0.1).
    pub pod_update_threshold: f64,
    /// `--in-recommendation-bounds-eviction-lifetime-threshold` (12 h), nanoseconds.
    pub lifetime_threshold_ns: i64,
}

impl Default for UpdaterConfig {
    fn default() -> Self {
        UpdaterConfig {
            interval_ns: 60_000_000_000,
            min_replicas: 2,
            eviction_tolerance: 0.5,
            pod_update_threshold: 0.1,
            lifetime_threshold_ns: 12 * 3_600_000_000_000,
        }
    }
}

/// Why and how urgently a pod should get new requests.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Priority {
    /// Some request is below the target.
    pub scale_up: bool,
    /// Σ over resources of |request − target| / request.
    pub resource_diff: f64,
    /// Some request is outside [lower, upper].
    pub outside: bool,
}

/// A pod's priority from its CPU (millicores) and memory (bytes) requests; `None` for a
/// controlled resource the pod does not request. `controlled`: (cpu, memory).
pub fn priority(
    requests: (Option<i64>, Option<i64>),
    rec: &Recommendation,
    controlled: (bool, bool),
) -> Priority {
    let mut p = Priority {
        scale_up: false,
        resource_diff: 0.0,
        outside: false,
    };
    let rows = [
        (
            controlled.0,
            requests.0,
            rec.target.cpu,
            rec.lower.cpu,
            rec.upper.cpu,
        ),
        (
            controlled.1,
            requests.1,
            rec.target.memory,
            rec.lower.memory,
            rec.upper.memory,
        ),
    ];
    for (on, req, target, lower, upper) in rows {
        if !on {
            continue;
        }
        match req {
            Some(r) => {
                p.scale_up |= target > r;
                p.outside |= r < lower || r > upper;
                let base = r.max(1) as f64;
                p.resource_diff += (base - target as f64).abs() / base;
            }
            None => {
                p.scale_up = true;
                p.outside = true;
                p.resource_diff += target as f64;
            }
        }
    }
    p
}

/// Whether the updater wants to act on a pod: outside the bounds, or (inside) old enough and
/// far enough from the target.
pub fn wants_update(p: &Priority, age_ns: Option<i64>, cfg: &UpdaterConfig) -> bool {
    if p.outside {
        return true;
    }
    match age_ns {
        None => false,
        Some(a) => a >= cfg.lifetime_threshold_ns && p.resource_diff >= cfg.pod_update_threshold,
    }
}

/// Whether one more running pod may be evicted: `configured` replicas, `running` of them
/// running, `done` already evicted (or resized) this round.
pub fn disruptable(configured: u32, running: u32, done: u32, tolerance: f64) -> bool {
    let tol = (configured as f64 * tolerance) as u32;
    let should_be_alive = configured.saturating_sub(tol) as i64;
    let alive = running as i64 - done as i64;
    alive > should_be_alive || (configured == running && tol == 0 && done == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vpa::recommender::Amounts;

    fn rec(t: (i64, i64), l: (i64, i64), u: (i64, i64)) -> Recommendation {
        let a = |(cpu, memory)| Amounts { cpu, memory };
        Recommendation {
            target: a(t),
            lower: a(l),
            upper: a(u),
        }
    }

    #[test]
    fn priority_flags_requests_outside_the_bounds() {
        let r = rec((1000, 1000), (800, 800), (1500, 1500));
        let p = priority((Some(100), Some(1000)), &r, (true, true));
        assert!(p.outside && p.scale_up);
        assert!((p.resource_diff - 9.0).abs() < 1e-12);
        let p = priority((Some(900), Some(1000)), &r, (true, true));
        assert!(!p.outside && p.scale_up);
        assert!((p.resource_diff - 0.1 / 0.9).abs() < 1e-12);
        // Memory not controlled: only CPU counts.
        let p = priority((Some(1000), Some(1)), &r, (true, false));
        assert!(!p.outside && !p.scale_up && p.resource_diff == 0.0);
    }

    #[test]
    fn in_bounds_pods_wait_twelve_hours() {
        let cfg = UpdaterConfig::default();
        let p = Priority {
            scale_up: true,
            resource_diff: 0.5,
            outside: false,
        };
        assert!(!wants_update(&p, Some(cfg.lifetime_threshold_ns - 1), &cfg));
        assert!(wants_update(&p, Some(cfg.lifetime_threshold_ns), &cfg));
        let small = Priority {
            resource_diff: 0.05,
            ..p
        };
        assert!(!wants_update(&small, Some(cfg.lifetime_threshold_ns), &cfg));
        assert!(!wants_update(&p, None, &cfg));
    }

    #[test]
    fn eviction_tolerance_as_upstream() {
        // 4 replicas, tolerance 0.5: 2 may go; one replica: one may go (second clause).
        assert!(disruptable(4, 4, 0, 0.5));
        assert!(disruptable(4, 4, 1, 0.5));
        assert!(!disruptable(4, 4, 2, 0.5));
        assert!(!disruptable(4, 3, 1, 0.5));
        assert!(disruptable(1, 1, 0, 0.5));
        assert!(!disruptable(1, 1, 1, 0.5));
        assert!(disruptable(2, 2, 0, 0.5));
        assert!(!disruptable(2, 2, 1, 0.5));
    }
}
