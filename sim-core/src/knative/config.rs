//! The KPA's settings: the `config-autoscaler` ConfigMap keys and the revision's annotations,
//! with upstream defaults.

/// One second in nanoseconds.
pub const SECOND: i64 = 1_000_000_000;

/// `TargetMin`: the smallest per-pod target the KPA uses.
pub const TARGET_MIN: f64 = 0.01;

/// `activationTimeoutBuffer`: added to the progress deadline before a stuck activation gives up.
pub const ACTIVATION_TIMEOUT_BUFFER: i64 = 30 * SECOND;

/// Settings of one revision's KPA (times in nanoseconds).
#[derive(Clone, Debug, PartialEq)]
pub struct KpaConfig {
    /// `containerConcurrency` of the revision (0: unlimited).
    pub container_concurrency: u32,
    /// `autoscaling.knative.dev/target` (per-pod concurrency), when set.
    pub target: Option<f64>,
    /// `container-concurrency-target-default` (100).
    pub container_concurrency_target_default: f64,
    /// `container-concurrency-target-percentage` as a percentage (70).
    pub target_utilization_percentage: f64,
    /// `stable-window` (60 s).
    pub stable_window: i64,
    /// `panic-window-percentage` (10).
    pub panic_window_percentage: f64,
    /// `panic-threshold-percentage` (200).
    pub panic_threshold_percentage: f64,
    /// `max-scale-up-rate` (1000).
    pub max_scale_up_rate: f64,
    /// `max-scale-down-rate` (2).
    pub max_scale_down_rate: f64,
    /// `enable-scale-to-zero` (true).
    pub enable_scale_to_zero: bool,
    /// `scale-to-zero-grace-period` (30 s).
    pub scale_to_zero_grace_period: i64,
    /// `scale-to-zero-pod-retention-period` (0).
    pub scale_to_zero_pod_retention_period: i64,
    /// `initial-scale` (1).
    pub initial_scale: u32,
    /// `allow-zero-initial-scale` (false).
    pub allow_zero_initial_scale: bool,
    /// `min-scale` (0).
    pub min_scale: u32,
    /// `max-scale` (0: unbounded).
    pub max_scale: u32,
    /// `activation-scale` (1).
    pub activation_scale: u32,
    /// `target-burst-capacity` (211; -1: the activator always in the path).
    pub target_burst_capacity: f64,
    /// The decider's tick (2 s).
    pub tick_interval: i64,
    /// The metric bucket width and scrape period (1 s).
    pub scrape_interval: i64,
    /// The revision's `timeoutSeconds` (300 s): how long the activator holds a request.
    pub timeout: i64,
    /// The revision's progress deadline (600 s).
    pub progress_deadline: i64,
}

impl Default for KpaConfig {
    fn default() -> Self {
        KpaConfig {
            container_concurrency: 0,
            target: None,
            container_concurrency_target_default: 100.0,
            target_utilization_percentage: 70.0,
            stable_window: 60 * SECOND,
            panic_window_percentage: 10.0,
            panic_threshold_percentage: 200.0,
            max_scale_up_rate: 1000.0,
            max_scale_down_rate: 2.0,
            enable_scale_to_zero: true,
            scale_to_zero_grace_period: 30 * SECOND,
            scale_to_zero_pod_retention_period: 0,
            initial_scale: 1,
            allow_zero_initial_scale: false,
            min_scale: 0,
            max_scale: 0,
            activation_scale: 1,
            target_burst_capacity: 211.0,
            tick_interval: 2 * SECOND,
            scrape_interval: SECOND,
            timeout: 300 * SECOND,
            progress_deadline: 600 * SECOND,
        }
    }
}

impl KpaConfig {
    /// `TotalValue`: the per-pod concurrency a pod can take (containerConcurrency, else the
    /// annotation target or the default), the annotation capped at containerConcurrency.
    pub fn total_value(&self) -> f64 {
        let cc = self.container_concurrency as f64;
        let base = if cc > 0.0 {
            cc
        } else {
            self.container_concurrency_target_default
        };
        match self.target {
            Some(t) if cc > 0.0 => t.min(cc),
            Some(t) => t,
            None => base,
        }
    }

    /// `TargetValue`: `max(TargetMin, TotalValue × utilisation)`.
    pub fn target_value(&self) -> f64 {
        (self.total_value() * self.target_utilization_percentage / 100.0).max(TARGET_MIN)
    }

    /// The panic window: the stable window × the percentage, rounded to whole seconds, at least
    /// one bucket.
    pub fn panic_window(&self) -> i64 {
        let w = self.stable_window as f64 * self.panic_window_percentage / 100.0;
        let secs = (w / SECOND as f64).round() as i64 * SECOND;
        secs.max(self.scrape_interval)
    }

    /// `PanicThreshold` as a ratio (2.0 for 200 %).
    pub fn panic_threshold(&self) -> f64 {
        self.panic_threshold_percentage / 100.0
    }

    /// The initial scale the revision starts with.
    pub fn initial(&self) -> u32 {
        self.initial_scale.max(self.min_scale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_derive_as_upstream() {
        let c = KpaConfig::default();
        assert_eq!(c.target_value(), 70.0);
        assert_eq!(c.panic_window(), 6 * SECOND);
        assert_eq!(c.panic_threshold(), 2.0);
        let cc = KpaConfig {
            container_concurrency: 10,
            target: Some(50.0),
            ..KpaConfig::default()
        };
        assert_eq!(cc.total_value(), 10.0);
        assert_eq!(cc.target_value(), 7.0);
    }
}
