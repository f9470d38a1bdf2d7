//! A KServe InferenceService (`serving.kserve.io/v1beta1`): its predictor becomes the scenario's
//! `[service]`, and its autoscaling the `[knative]` KPA (the default Serverless mode) or an
//! `[hpa]` (RawDeployment/Standard mode with the `hpa` autoscaler class), with KServe's
//! defaults: at least 1 replica, the concurrency metric under Knative, CPU at 80% under the HPA.

use super::{get, pod_spec, present, Mapper};
use crate::scenario::ScenarioError;
use toml::{Table, Value};
use yaml_rust2::Yaml;

/// KServe's default CPU utilisation target for the HPA it creates (`DefaultCPUUtilization`).
const DEFAULT_CPU_UTILIZATION: i64 = 80;

/// Per-revision Knative annotations (`autoscaling.knative.dev/<name>`) and the `[knative]` key
/// each sets, with whether its value is a number.
const KNATIVE_ANNOTATIONS: [(&str, &str, Kind); 11] = [
    ("target", "target", Kind::Float),
    (
        "target-utilization-percentage",
        "target-utilization-percentage",
        Kind::Float,
    ),
    ("min-scale", "min-scale", Kind::Int),
    ("max-scale", "max-scale", Kind::Int),
    ("initial-scale", "initial-scale", Kind::Int),
    ("activation-scale", "activation-scale", Kind::Int),
    ("window", "stable-window", Kind::Text),
    (
        "panic-window-percentage",
        "panic-window-percentage",
        Kind::Float,
    ),
    (
        "panic-threshold-percentage",
        "panic-threshold-percentage",
        Kind::Float,
    ),
    (
        "target-burst-capacity",
        "target-burst-capacity",
        Kind::Float,
    ),
    (
        "scale-to-zero-pod-retention-period",
        "scale-to-zero-pod-retention-period",
        Kind::Text,
    ),
];

#[derive(Clone, Copy)]
enum Kind {
    Int,
    Float,
    Text,
}

/// The annotation `name` under `metadata.annotations`, if it is there.
fn annotation<'y>(doc: &'y Yaml, name: &str) -> Option<&'y Yaml> {
    let y = &doc["metadata"]["annotations"][name];
    present(y).then_some(y)
}

/// An annotation's text (annotations are strings; a bare YAML number is read as written).
fn text(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Real(r) => Some(r.clone()),
        _ => None,
    }
}

/// An integer field (absent: `None`); anything but a non-negative integer is an error.
fn int(m: &Mapper, doc: &Yaml, path: &str) -> Result<Option<i64>, ScenarioError> {
    match get(doc, path) {
        Yaml::Integer(i) if *i >= 0 => Ok(Some(*i)),
        y if present(y) => Err(m.loc().bad(path, "a whole number, 0 or more")),
        _ => Ok(None),
    }
}

/// Maps the InferenceService at `doc`.
pub(super) fn map(m: &mut Mapper, doc: &Yaml, api: &str, name: &str) -> Result<(), ScenarioError> {
    if api != "serving.kserve.io/v1beta1" {
        return Err(m.loc().bad(
            "apiVersion",
            "serving.kserve.io/v1beta1 for an InferenceService",
        ));
    }
    let p = "spec.predictor";
    if !present(get(doc, p)) {
        return Err(m.loc().bad(p, "a predictor (the model server)"));
    }
    if !name.is_empty() {
        m.push("service.name", Value::String(name.into()), "metadata.name");
    }
    // The model server: a `model` (a serving runtime picks the container) or custom containers.
    if present(get(doc, &format!("{p}.containers"))) {
        pod_spec(m, doc, p)?;
    } else {
        for side in ["requests", "limits"] {
            m.set(
                &format!("service.resources.{side}"),
                doc,
                &format!("{p}.model.resources.{side}"),
            )?;
        }
        for f in ["nodeSelector", "tolerations", "affinity"] {
            m.set(&format!("service.pod.{f}"), doc, &format!("{p}.{f}"))?;
        }
    }
    let mode_key = "serving.kserve.io/deploymentMode";
    let mode = annotation(doc, mode_key)
        .and_then(Yaml::as_str)
        .unwrap_or("Serverless");
    let min = int(m, doc, &format!("{p}.minReplicas"))?.unwrap_or(1);
    let max = int(m, doc, &format!("{p}.maxReplicas"))?;
    let metric = get(doc, &format!("{p}.scaleMetric")).as_str();
    let target = int(m, doc, &format!("{p}.scaleTarget"))?;
    match mode {
        "Serverless" => {
            m.consume(&format!("metadata.annotations.{mode_key}"));
            m.push(
                "knative.min-scale",
                Value::Integer(min),
                &format!("{p}.minReplicas"),
            );
            m.consume(&format!("{p}.minReplicas"));
            if let Some(max) = max {
                m.push(
                    "knative.max-scale",
                    Value::Integer(max),
                    &format!("{p}.maxReplicas"),
                );
                m.consume(&format!("{p}.maxReplicas"));
            }
            // Concurrency (the default) is the KPA's metric; rps is not modelled and stays
            // listed, with its target.
            if matches!(metric, None | Some("concurrency")) {
                m.consume(&format!("{p}.scaleMetric"));
                if let Some(t) = target {
                    m.push(
                        "knative.target",
                        Value::Float(t as f64),
                        &format!("{p}.scaleTarget"),
                    );
                    m.consume(&format!("{p}.scaleTarget"));
                }
            }
            m.set(
                "knative.container-concurrency",
                doc,
                &format!("{p}.containerConcurrency"),
            )?;
            m.set("knative.timeout-seconds", doc, &format!("{p}.timeout"))?;
            knative_annotations(m, doc)?;
        }
        "RawDeployment" | "Standard" => {
            m.consume(&format!("metadata.annotations.{mode_key}"));
            m.push(
                "service.replicas",
                Value::Integer(min),
                &format!("{p}.minReplicas"),
            );
            let class_key = "serving.kserve.io/autoscalerClass";
            let class = annotation(doc, class_key)
                .and_then(Yaml::as_str)
                .unwrap_or("hpa");
            if class == "hpa" {
                m.consume(&format!("metadata.annotations.{class_key}"));
                m.consume(&format!("{p}.minReplicas"));
                m.consume(&format!("{p}.maxReplicas"));
                m.push(
                    "hpa.minReplicas",
                    Value::Integer(min.max(1)),
                    &format!("{p}.minReplicas"),
                );
                // KServe raises a maximum below the minimum to the minimum.
                let max = max.unwrap_or(0).max(min.max(1));
                m.push(
                    "hpa.maxReplicas",
                    Value::Integer(max),
                    &format!("{p}.maxReplicas"),
                );
                if present(get(doc, &format!("{p}.autoScaling.metrics"))) {
                    m.set("hpa.metrics", doc, &format!("{p}.autoScaling.metrics"))?;
                } else if matches!(metric, None | Some("cpu") | Some("memory")) {
                    let resource = metric.unwrap_or("cpu");
                    let utilization = target.unwrap_or(DEFAULT_CPU_UTILIZATION);
                    let mut t = Table::new();
                    t.insert("type".into(), Value::String("Utilization".into()));
                    t.insert("averageUtilization".into(), Value::Integer(utilization));
                    let mut r = Table::new();
                    r.insert("name".into(), Value::String(resource.into()));
                    r.insert("target".into(), Value::Table(t));
                    let mut metric_t = Table::new();
                    metric_t.insert("type".into(), Value::String("Resource".into()));
                    metric_t.insert("resource".into(), Value::Table(r));
                    m.push(
                        "hpa.metrics",
                        Value::Array(vec![Value::Table(metric_t)]),
                        &format!("{p}.scaleMetric"),
                    );
                    m.consume(&format!("{p}.scaleMetric"));
                    m.consume(&format!("{p}.scaleTarget"));
                }
            } else {
                // `external` or `none`: nothing scales the Deployment; `keda` is not modelled
                // from an InferenceService and stays listed.
                if class != "keda" {
                    m.consume(&format!("metadata.annotations.{class_key}"));
                }
                m.consume(&format!("{p}.minReplicas"));
            }
        }
        _ => {
            return Err(m.loc().bad(
                &format!("metadata.annotations.{mode_key}"),
                "Serverless, RawDeployment or Standard",
            ))
        }
    }
    Ok(())
}

/// `autoscaling.knative.dev/*` annotations onto `[knative]` keys.
fn knative_annotations(m: &mut Mapper, doc: &Yaml) -> Result<(), ScenarioError> {
    for (ann, key, kind) in KNATIVE_ANNOTATIONS {
        let full = format!("autoscaling.knative.dev/{ann}");
        let Some(y) = annotation(doc, &full) else {
            continue;
        };
        let path = format!("metadata.annotations.{full}");
        let t = text(y).ok_or_else(|| m.loc().bad(&path, "a string"))?;
        let v = match kind {
            Kind::Int => Value::Integer(
                t.trim()
                    .parse()
                    .map_err(|_| m.loc().bad(&path, "a whole number in quotes"))?,
            ),
            Kind::Float => Value::Float(
                t.trim()
                    .parse()
                    .map_err(|_| m.loc().bad(&path, "a number in quotes"))?,
            ),
            Kind::Text => Value::String(t),
        };
        m.push(&format!("knative.{key}"), v, &path);
        m.consume(&path);
    }
    Ok(())
}
