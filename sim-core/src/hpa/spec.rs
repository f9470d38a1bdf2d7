//! autoscaling/v2 `HorizontalPodAutoscalerSpec`: the raw form with upstream field names (as read
//! from TOML), its validation (upstream's messages) and defaults, and the checked [`Hpa`].

use super::state::{Nanos, SECOND};
use crate::cluster::parse_quantity;
use serde::{Deserialize, Deserializer};

/// A Kubernetes quantity in milli-units, written as a string (`"500m"`, `"2"`, `"1Gi"`) or a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MilliQuantity(pub i64);

impl<'de> Deserialize<'de> for MilliQuantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = MilliQuantity;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a Kubernetes quantity such as \"500m\", \"20\" or 1.5")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<MilliQuantity, E> {
                v.checked_mul(1000)
                    .map(MilliQuantity)
                    .ok_or_else(|| E::custom(format!("quantity {v} is too large")))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<MilliQuantity, E> {
                i64::try_from(v)
                    .map_err(|_| E::custom(format!("quantity {v} is too large")))
                    .and_then(|v| self.visit_i64(v))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<MilliQuantity, E> {
                let m = (v * 1000.0).ceil();
                if !m.is_finite() || m.abs() > 9.0e18 {
                    return Err(E::custom(format!("expected a finite quantity, found {v}")));
                }
                Ok(MilliQuantity(m as i64))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<MilliQuantity, E> {
                let (neg, body) = match v.trim().strip_prefix('-') {
                    Some(b) => (true, b),
                    None => (false, v),
                };
                let q = parse_quantity(body).map_err(|e| E::custom(e.0))?;
                let m = i64::try_from(q.milli())
                    .map_err(|_| E::custom(format!("quantity \"{v}\" is too large")))?;
                Ok(MilliQuantity(if neg { -m } else { m }))
            }
        }
        d.deserialize_any(V)
    }
}

/// `CrossVersionObjectReference`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ObjectReference {
    /// Kind, e.g. `Deployment`.
    pub kind: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// API version, e.g. `apps/v1`.
    pub api_version: Option<String>,
}

/// `MetricIdentifier`: a metric name and an optional label selector (kept, not evaluated).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MetricIdentifier {
    /// Metric name.
    pub name: String,
    /// Label selector (accepted for fidelity; capsim does not filter series by it).
    pub selector: Option<toml::Value>,
}

/// `MetricTargetType`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub enum TargetType {
    /// `Utilization`: percent of the request (resource metrics only).
    Utilization,
    /// `Value`: one total value (Object, External).
    Value,
    /// `AverageValue`: a value per pod.
    AverageValue,
}

/// `MetricTarget`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MetricTarget {
    /// Which of the value fields is meant.
    #[serde(rename = "type")]
    pub kind: TargetType,
    /// `value`.
    pub value: Option<MilliQuantity>,
    /// `averageValue`.
    pub average_value: Option<MilliQuantity>,
    /// `averageUtilization`, percent.
    pub average_utilization: Option<i32>,
}

/// `ResourceMetricSource`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ResourceSource {
    /// Resource name (`cpu`, `memory`, ...).
    pub name: String,
    /// Target.
    pub target: MetricTarget,
}

/// `ContainerResourceMetricSource`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ContainerResourceSource {
    /// Resource name.
    pub name: String,
    /// Container name.
    pub container: String,
    /// Target.
    pub target: MetricTarget,
}

/// `PodsMetricSource`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PodsSource {
    /// The metric.
    pub metric: MetricIdentifier,
    /// Target (AverageValue).
    pub target: MetricTarget,
}

/// `ObjectMetricSource`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ObjectSource {
    /// The object the metric describes.
    pub described_object: Option<ObjectReference>,
    /// The metric.
    pub metric: MetricIdentifier,
    /// Target (Value or AverageValue).
    pub target: MetricTarget,
}

/// `ExternalMetricSource`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExternalSource {
    /// The metric.
    pub metric: MetricIdentifier,
    /// Target (Value or AverageValue).
    pub target: MetricTarget,
}

/// `MetricSourceType`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub enum MetricSourceType {
    /// `Resource`.
    Resource,
    /// `ContainerResource`.
    ContainerResource,
    /// `Pods`.
    Pods,
    /// `Object`.
    Object,
    /// `External`.
    External,
}

/// `MetricSpec`: a type and the one source block that type names.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MetricSpec {
    /// Which source is set.
    #[serde(rename = "type")]
    pub kind: MetricSourceType,
    /// `resource`.
    pub resource: Option<ResourceSource>,
    /// `containerResource`.
    pub container_resource: Option<ContainerResourceSource>,
    /// `pods`.
    pub pods: Option<PodsSource>,
    /// `object`.
    pub object: Option<ObjectSource>,
    /// `external`.
    pub external: Option<ExternalSource>,
}

/// `HPAScalingPolicyType`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub enum PolicyType {
    /// `Pods`: an absolute number of pods.
    Pods,
    /// `Percent`: a percentage of the replicas at the start of the period.
    Percent,
}

/// `HPAScalingPolicy`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScalingPolicy {
    /// Pods or Percent.
    #[serde(rename = "type")]
    pub kind: PolicyType,
    /// Amount (> 0).
    pub value: i32,
    /// Period in seconds (1..=1800).
    pub period_seconds: i32,
}

/// `ScalingPolicySelect`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub enum SelectPolicy {
    /// `Max`: the policy allowing the biggest change.
    Max,
    /// `Min`: the policy allowing the smallest change.
    Min,
    /// `Disabled`: no scaling in this direction.
    Disabled,
}

/// `HPAScalingRules` as written.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScalingRulesSpec {
    /// `stabilizationWindowSeconds` (0..=3600).
    pub stabilization_window_seconds: Option<i32>,
    /// `selectPolicy`.
    pub select_policy: Option<SelectPolicy>,
    /// `policies`.
    pub policies: Option<Vec<ScalingPolicy>>,
    /// `tolerance` (HPAConfigurableTolerance), a quantity such as `"0.05"`.
    pub tolerance: Option<MilliQuantity>,
}

/// `HorizontalPodAutoscalerBehavior` as written.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BehaviorSpec {
    /// `scaleUp`.
    pub scale_up: Option<ScalingRulesSpec>,
    /// `scaleDown`.
    pub scale_down: Option<ScalingRulesSpec>,
}

/// `HorizontalPodAutoscalerSpec` as written.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HpaSpec {
    /// `scaleTargetRef` (optional here; only names the target in messages).
    pub scale_target_ref: Option<ObjectReference>,
    /// `minReplicas` (default 1).
    pub min_replicas: Option<i32>,
    /// `maxReplicas`.
    pub max_replicas: i32,
    /// `metrics` (default: CPU at 80 % utilisation).
    pub metrics: Option<Vec<MetricSpec>>,
    /// `behavior`.
    pub behavior: Option<BehaviorSpec>,
}

/// A checked metric target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Percent of the request.
    Utilization(i32),
    /// Milli-units per pod.
    AverageValue(i64),
    /// Milli-units in total.
    Value(i64),
}

/// A checked metric.
#[derive(Clone, Debug, PartialEq)]
pub enum Metric {
    /// A resource of every container of the pod (or the pod-level request).
    Resource {
        /// Resource name.
        name: String,
        /// Utilization or AverageValue.
        target: Target,
    },
    /// A resource of one container.
    ContainerResource {
        /// Resource name.
        name: String,
        /// Container name.
        container: String,
        /// Utilization or AverageValue.
        target: Target,
    },
    /// A custom per-pod metric.
    Pods {
        /// Metric name.
        name: String,
        /// AverageValue target.
        target: Target,
    },
    /// A metric describing one object.
    Object {
        /// Metric name.
        name: String,
        /// Kind of the described object (for messages).
        kind: String,
        /// Value or AverageValue.
        target: Target,
    },
    /// A metric from outside the cluster.
    External {
        /// Metric name.
        name: String,
        /// Value or AverageValue.
        target: Target,
    },
}

impl Metric {
    /// A short description such as `cpu resource utilization (percentage of request)`.
    pub fn describe(&self) -> String {
        match self {
            Metric::Resource {
                name,
                target: Target::Utilization(_),
            } => {
                format!("{name} resource utilization (percentage of request)")
            }
            Metric::Resource { name, .. } => format!("{name} resource"),
            Metric::ContainerResource {
                name,
                target: Target::Utilization(_),
                ..
            } => {
                format!("{name} container resource utilization (percentage of request)")
            }
            Metric::ContainerResource { name, .. } => format!("{name} container resource"),
            Metric::Pods { name, .. } => format!("pods metric {name}"),
            Metric::Object { name, kind, .. } => format!("{kind} metric {name}"),
            Metric::External { name, .. } => format!("external metric {name}"),
        }
    }
}

/// Checked, defaulted scaling rules for one direction.
#[derive(Clone, Debug, PartialEq)]
pub struct ScalingRules {
    /// Stabilization window.
    pub stabilization_window_seconds: i32,
    /// How to combine the policies.
    pub select_policy: SelectPolicy,
    /// Rate-limiting policies.
    pub policies: Vec<ScalingPolicy>,
    /// Per-direction tolerance, when set.
    pub tolerance: Option<f64>,
}

impl ScalingRules {
    /// The stabilization window in nanoseconds.
    pub fn window(&self) -> Nanos {
        self.stabilization_window_seconds as Nanos * SECOND
    }
}

/// Checked, defaulted `behavior`.
#[derive(Clone, Debug, PartialEq)]
pub struct Behavior {
    /// Scale-up rules (default: stabilization 0, Max of {4 Pods, 100 Percent} per 15 s).
    pub scale_up: ScalingRules,
    /// Scale-down rules (default: stabilization from the controller flag, 100 Percent per 15 s).
    pub scale_down: ScalingRules,
}

/// A checked HPA.
#[derive(Clone, Debug, PartialEq)]
pub struct Hpa {
    /// `Kind/namespace/name` of the target, for messages.
    pub reference: String,
    /// `minReplicas` after defaulting.
    pub min_replicas: i32,
    /// `maxReplicas`.
    pub max_replicas: i32,
    /// Metrics, in order (never empty after defaulting).
    pub metrics: Vec<Metric>,
    /// `behavior`, when given (then with every default filled in).
    pub behavior: Option<Behavior>,
}

/// `autoscaling.DefaultCPUUtilization`, used when `metrics` is empty.
pub const DEFAULT_CPU_UTILIZATION: i32 = 80;

/// A validation error: the key path below the spec (such as `metrics[0].resource.target`) and
/// upstream's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecError {
    /// Key path relative to the spec.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

fn err(key: impl Into<String>, message: impl Into<String>) -> SpecError {
    SpecError {
        key: key.into(),
        message: message.into(),
    }
}

/// Upstream's default scale-up rules.
pub fn default_scale_up() -> ScalingRules {
    ScalingRules {
        stabilization_window_seconds: 0,
        select_policy: SelectPolicy::Max,
        policies: vec![
            ScalingPolicy {
                kind: PolicyType::Pods,
                value: 4,
                period_seconds: 15,
            },
            ScalingPolicy {
                kind: PolicyType::Percent,
                value: 100,
                period_seconds: 15,
            },
        ],
        tolerance: None,
    }
}

/// Upstream's default scale-down rules, with the window from the downscale-stabilization flag.
pub fn default_scale_down(downscale_window_seconds: i32) -> ScalingRules {
    ScalingRules {
        stabilization_window_seconds: downscale_window_seconds,
        select_policy: SelectPolicy::Max,
        policies: vec![ScalingPolicy {
            kind: PolicyType::Percent,
            value: 100,
            period_seconds: 15,
        }],
        tolerance: None,
    }
}

impl HpaSpec {
    /// Validates (upstream's `validation.go` rules) and defaults the spec. `downscale_window_seconds`
    /// is the controller flag that fills an unset `scaleDown.stabilizationWindowSeconds`.
    pub fn check(&self, downscale_window_seconds: i32) -> Result<Hpa, SpecError> {
        let min = self.min_replicas.unwrap_or(1);
        if min < 0 {
            return Err(err(
                "minReplicas",
                format!("must be greater than or equal to 0, found {min}"),
            ));
        }
        if self.max_replicas < 1 {
            return Err(err(
                "maxReplicas",
                format!(
                    "must be greater than or equal to 1, found {}",
                    self.max_replicas
                ),
            ));
        }
        if self.max_replicas < min {
            return Err(err(
                "maxReplicas",
                format!(
                    "must be greater than or equal to `minReplicas` ({min}), found {}",
                    self.max_replicas
                ),
            ));
        }
        let mut metrics = Vec::new();
        for (i, m) in self.metrics.iter().flatten().enumerate() {
            metrics.push(check_metric(m, &format!("metrics[{i}]"))?);
        }
        if metrics.is_empty() {
            metrics.push(Metric::Resource {
                name: "cpu".into(),
                target: Target::Utilization(DEFAULT_CPU_UTILIZATION),
            });
        }
        let behavior = match &self.behavior {
            None => None,
            Some(b) => Some(Behavior {
                scale_up: check_rules(b.scale_up.as_ref(), default_scale_up(), "behavior.scaleUp")?,
                scale_down: check_rules(
                    b.scale_down.as_ref(),
                    default_scale_down(downscale_window_seconds),
                    "behavior.scaleDown",
                )?,
            }),
        };
        let r = self.scale_target_ref.clone().unwrap_or_default();
        let reference = format!(
            "{}/default/{}",
            r.kind.unwrap_or_else(|| "Deployment".into()),
            r.name.unwrap_or_else(|| "target".into())
        );
        Ok(Hpa {
            reference,
            min_replicas: min,
            max_replicas: self.max_replicas,
            metrics,
            behavior,
        })
    }
}

fn check_rules(
    spec: Option<&ScalingRulesSpec>,
    default: ScalingRules,
    key: &str,
) -> Result<ScalingRules, SpecError> {
    let Some(s) = spec else { return Ok(default) };
    let window = s
        .stabilization_window_seconds
        .unwrap_or(default.stabilization_window_seconds);
    if !(0..=3600).contains(&window) {
        return Err(err(
            format!("{key}.stabilizationWindowSeconds"),
            format!("must be between 0 and 3600 seconds, found {window}"),
        ));
    }
    let policies = match &s.policies {
        None => default.policies,
        Some(p) if p.is_empty() => {
            return Err(err(
                format!("{key}.policies"),
                "must specify at least one Policy",
            ))
        }
        Some(p) => p.clone(),
    };
    for (i, p) in policies.iter().enumerate() {
        if p.period_seconds <= 0 {
            return Err(err(
                format!("{key}.policies[{i}].periodSeconds"),
                format!("must be greater than zero, found {}", p.period_seconds),
            ));
        }
        if p.period_seconds > 1800 {
            return Err(err(
                format!("{key}.policies[{i}].periodSeconds"),
                format!(
                    "must be less than or equal to 1800, found {}",
                    p.period_seconds
                ),
            ));
        }
        if p.value <= 0 {
            return Err(err(
                format!("{key}.policies[{i}].value"),
                format!("must be greater than zero, found {}", p.value),
            ));
        }
    }
    let tolerance = match s.tolerance {
        Some(MilliQuantity(m)) if m < 0 => {
            return Err(err(
                format!("{key}.tolerance"),
                "must be greater than or equal to 0",
            ))
        }
        Some(MilliQuantity(m)) => Some(m as f64 / 1000.0),
        None => None,
    };
    Ok(ScalingRules {
        stabilization_window_seconds: window,
        select_policy: s.select_policy.unwrap_or(SelectPolicy::Max),
        policies,
        tolerance,
    })
}

fn check_target(t: &MetricTarget, key: &str, allowed: &[TargetType]) -> Result<Target, SpecError> {
    if !allowed.contains(&t.kind) {
        let names: Vec<String> = allowed.iter().map(|a| format!("{a:?}")).collect();
        return Err(err(
            format!("{key}.type"),
            format!(
                "must be {} for this metric source, found {:?}",
                names.join(" or "),
                t.kind
            ),
        ));
    }
    let positive = |v: Option<MilliQuantity>, field: &str| -> Result<i64, SpecError> {
        match v {
            Some(MilliQuantity(m)) if m > 0 => Ok(m),
            Some(_) => Err(err(format!("{key}.{field}"), "must be positive")),
            None => Err(err(
                format!("{key}.{field}"),
                format!("must set {field} when the target type is {:?}", t.kind),
            )),
        }
    };
    Ok(match t.kind {
        TargetType::Utilization => match t.average_utilization {
            Some(u) if u > 0 => Target::Utilization(u),
            Some(_) => {
                return Err(err(
                    format!("{key}.averageUtilization"),
                    "must be greater than 0",
                ))
            }
            None => {
                return Err(err(
                    format!("{key}.averageUtilization"),
                    "must set averageUtilization when the target type is Utilization",
                ))
            }
        },
        TargetType::AverageValue => {
            Target::AverageValue(positive(t.average_value, "averageValue")?)
        }
        TargetType::Value => Target::Value(positive(t.value, "value")?),
    })
}

fn check_metric(m: &MetricSpec, key: &str) -> Result<Metric, SpecError> {
    use MetricSourceType as T;
    use TargetType::*;
    let set = [
        (T::Resource, m.resource.is_some(), "resource"),
        (
            T::ContainerResource,
            m.container_resource.is_some(),
            "containerResource",
        ),
        (T::Pods, m.pods.is_some(), "pods"),
        (T::Object, m.object.is_some(), "object"),
        (T::External, m.external.is_some(), "external"),
    ];
    for (t, present, field) in set {
        if t == m.kind && !present {
            return Err(err(
                format!("{key}.{field}"),
                format!(
                    "must populate information for the given metric source (type {:?})",
                    m.kind
                ),
            ));
        }
    }
    for (t, present, field) in set {
        if t != m.kind && present {
            return Err(err(
                format!("{key}.{field}"),
                format!(
                    "must populate the given metric source only (type {:?})",
                    m.kind
                ),
            ));
        }
    }
    Ok(match m.kind {
        T::Resource => {
            let r = m.resource.as_ref().expect("checked above");
            Metric::Resource {
                name: r.name.clone(),
                target: check_target(
                    &r.target,
                    &format!("{key}.resource.target"),
                    &[Utilization, AverageValue],
                )?,
            }
        }
        T::ContainerResource => {
            let r = m.container_resource.as_ref().expect("checked above");
            Metric::ContainerResource {
                name: r.name.clone(),
                container: r.container.clone(),
                target: check_target(
                    &r.target,
                    &format!("{key}.containerResource.target"),
                    &[Utilization, AverageValue],
                )?,
            }
        }
        T::Pods => {
            let p = m.pods.as_ref().expect("checked above");
            Metric::Pods {
                name: p.metric.name.clone(),
                target: check_target(&p.target, &format!("{key}.pods.target"), &[AverageValue])?,
            }
        }
        T::Object => {
            let o = m.object.as_ref().expect("checked above");
            Metric::Object {
                name: o.metric.name.clone(),
                kind: o
                    .described_object
                    .as_ref()
                    .and_then(|d| d.kind.clone())
                    .unwrap_or_else(|| "Object".into()),
                target: check_target(
                    &o.target,
                    &format!("{key}.object.target"),
                    &[Value, AverageValue],
                )?,
            }
        }
        T::External => {
            let e = m.external.as_ref().expect("checked above");
            Metric::External {
                name: e.metric.name.clone(),
                target: check_target(
                    &e.target,
                    &format!("{key}.external.target"),
                    &[Value, AverageValue],
                )?,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(src: &str) -> HpaSpec {
        toml::from_str(src).unwrap()
    }

    #[test]
    fn defaults_min_metrics_and_behavior() {
        let h = spec("maxReplicas = 5\n[behavior]\n").check(300).unwrap();
        assert_eq!(h.min_replicas, 1);
        assert_eq!(
            h.metrics,
            vec![Metric::Resource {
                name: "cpu".into(),
                target: Target::Utilization(80)
            }]
        );
        let b = h.behavior.unwrap();
        assert_eq!(b.scale_up, default_scale_up());
        assert_eq!(b.scale_down, default_scale_down(300));
    }

    #[test]
    fn partial_rules_keep_defaults_for_missing_fields() {
        let h = spec("maxReplicas = 5\n[behavior.scaleDown]\nselectPolicy = \"Min\"\n")
            .check(120)
            .unwrap();
        let d = h.behavior.unwrap().scale_down;
        assert_eq!(d.stabilization_window_seconds, 120);
        assert_eq!(d.select_policy, SelectPolicy::Min);
        assert_eq!(d.policies, default_scale_down(0).policies);
    }

    #[test]
    fn rejects_bad_specs() {
        let e = spec("minReplicas = 5\nmaxReplicas = 2")
            .check(300)
            .unwrap_err();
        assert_eq!(e.key, "maxReplicas");
        let e = spec("maxReplicas = 2\n[[behavior.scaleUp.policies]]\ntype = \"Pods\"\nvalue = 1\nperiodSeconds = 0\n")
            .check(300)
            .unwrap_err();
        assert_eq!(e.key, "behavior.scaleUp.policies[0].periodSeconds");
        let e = spec("maxReplicas = 2\n[[metrics]]\ntype = \"Pods\"\n[metrics.resource]\nname = \"cpu\"\ntarget = { type = \"Utilization\", averageUtilization = 5 }\n")
            .check(300)
            .unwrap_err();
        assert_eq!(e.key, "metrics[0].pods");
        assert!(
            toml::from_str::<HpaSpec>("maxReplicas = 2\n[[metrics]]\ntype = \"Nope\"\n").is_err()
        );
    }

    #[test]
    fn quantities_read_as_milli_units() {
        #[derive(Deserialize)]
        struct Q {
            a: MilliQuantity,
            b: MilliQuantity,
            c: MilliQuantity,
        }
        let q: Q = toml::from_str("a = \"500m\"\nb = 2\nc = 1.5").unwrap();
        assert_eq!((q.a.0, q.b.0, q.c.0), (500, 2000, 1500));
    }
}
