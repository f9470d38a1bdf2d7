//! Kubernetes manifests beside a scenario: the seed article's manifests in `scenarios/manifests/`
//! load and run, every field capsim does not model is listed, and bad manifests get errors that
//! name the file and the field.

use crate::common::capsim_text;

fn path_str(p: &std::path::Path) -> String {
    p.to_str().unwrap().to_string()
}

#[test]
fn the_seed_manifests_run_and_list_what_is_not_modelled() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m");
    let (code, stdout, stderr) = capsim_text(&[
        "run",
        "scenarios/manifests-cluster.toml",
        "scenarios/manifests/",
        "--out",
        &path_str(&out),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    for w in [
        "Deployment/inference-deployment: fields not modelled (ignored): spec.strategy.type, \
         spec.strategy.rollingUpdate.maxUnavailable, spec.strategy.rollingUpdate.maxSurge, \
         spec.template.spec.containers[0].image",
        "Pod/inference-pod: a bare Pod beside a Deployment is not modelled",
    ] {
        assert!(stderr.contains(w), "warning `{w}` in\n{stderr}");
    }
    // The VPA is modelled whole: no warning names it, and it ran.
    assert!(!stderr.contains("VerticalPodAutoscaler"), "{stderr}");
    let summary = std::fs::read_to_string(out.join("summary.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&summary).unwrap();
    // The HPA of the manifest (CPU 70%, 2 to 20) scaled the Deployment up from its 2 replicas.
    let series = std::fs::read_to_string(out.join("timeseries.csv")).unwrap();
    let header: Vec<&str> = series.lines().next().unwrap().split(',').collect();
    let col = header
        .iter()
        .position(|h| *h == "desired_replicas")
        .unwrap();
    let desired: Vec<u32> = series
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(col).unwrap().parse().unwrap())
        .collect();
    assert_eq!(desired[0], 2, "the Deployment's replicas");
    let max = *desired.iter().max().unwrap();
    assert!(
        (3..=20).contains(&max),
        "scaled within the HPA's bounds: {max}"
    );
    assert!(v["requests"]["completed"].as_u64().unwrap() > 0);
    assert_eq!(
        v["cluster"]["vpa"]["update_mode"], "Auto",
        "{}",
        v["cluster"]["vpa"]
    );
    assert!(
        v["cluster"]["vpa"]["evictions"].as_u64().unwrap() > 0,
        "{}",
        v["cluster"]["vpa"]
    );
    let inputs = std::fs::read_to_string(out.join("inputs.csv")).unwrap();
    assert_eq!(inputs.matches("\nmanifest,").count(), 4, "{inputs}");
}

#[test]
fn a_bare_pod_is_one_replica() {
    let (code, stdout, stderr) = capsim_text(&[
        "validate",
        "scenarios/manifests-cluster.toml",
        "scenarios/manifests/inference-pod.yaml",
        "scenarios/manifests/inference-hpa.yaml",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains(": 1 replica behind"), "{stdout}");
    assert!(
        stderr
            .contains("Pod/inference-pod: fields not modelled (ignored): spec.containers[0].image"),
        "{stderr}"
    );
}

#[test]
fn bad_manifests_are_refused_with_the_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        path_str(&p)
    };
    let cases = [
        (
            write("broken.yaml", "kind: HorizontalPodAutoscaler\nspec: [\n"),
            "broken.yaml:",
            "not valid YAML",
        ),
        (
            write(
                "v1.yaml",
                "apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata: {name: h}\n",
            ),
            "v1.yaml",
            "expected autoscaling/v2",
        ),
        (
            write(
                "minmax.yaml",
                "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: h}\n\
                 spec:\n  scaleTargetRef: {kind: Deployment, name: d}\n  minReplicas: 9\n  maxReplicas: 3\n",
            ),
            "minmax.yaml: HorizontalPodAutoscaler/h: spec.",
            "set from the manifest as scenario key `hpa.",
        ),
    ];
    for (file, where_, what) in cases {
        let (code, stdout, stderr) =
            capsim_text(&["validate", "scenarios/manifests-cluster.toml", &file]);
        assert_eq!(code, 2, "{file}: {stdout}{stderr}");
        assert!(stderr.contains(where_), "`{where_}` in {stderr}");
        assert!(stderr.contains(what), "`{what}` in {stderr}");
    }
}

#[test]
fn a_kserve_inference_service_scales_to_zero_under_the_kpa() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("k");
    let (code, stdout, stderr) = capsim_text(&[
        "run",
        "scenarios/kserve-cluster.toml",
        "scenarios/kserve/chat.yaml",
        "--out",
        &path_str(&out),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stderr.contains(
            "InferenceService/chat: fields not modelled (ignored): \
             spec.predictor.model.modelFormat.name"
        ),
        "{stderr}"
    );
    let series = std::fs::read_to_string(out.join("timeseries.csv")).unwrap();
    let header: Vec<&str> = series.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (t, desired) = (col("time_s"), col("desired_replicas"));
    let rows: Vec<(f64, u32)> = series
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[t].parse().unwrap(), f[desired].parse().unwrap())
        })
        .collect();
    // minReplicas 0: the quiet half hour (20 to 50 minutes) ends at zero replicas, and the
    // second busy period scales up again.
    let quiet_end = rows.iter().rfind(|(s, _)| *s <= 49.0 * 60.0).unwrap();
    assert_eq!(quiet_end.1, 0, "{rows:?}");
    assert!(
        rows.iter().any(|(s, d)| *s > 50.0 * 60.0 && *d > 0),
        "{rows:?}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(v["requests"]["arrived"], v["requests"]["completed"]);
}
