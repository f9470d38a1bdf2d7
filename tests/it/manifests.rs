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
        // The rolling-update strategy is mapped (onto `[service.strategy]`, the default of
        // any `[[rollout]]`); only the container image is not modelled.
        "Deployment/inference-deployment: fields not modelled (ignored): \
         spec.template.spec.containers[0].image\n",
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
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains(": 1 replica behind"), "{stdout}");
    assert!(
        stderr
            .contains("Pod/inference-pod: fields not modelled (ignored): spec.containers[0].image"),
        "{stderr}"
    );
    // The article's HPA targets `inference-deployment`, which a bare Pod is not.
    let (code, stdout, stderr) = capsim_text(&[
        "validate",
        "scenarios/manifests-cluster.toml",
        "scenarios/manifests/inference-pod.yaml",
        "scenarios/manifests/inference-hpa.yaml",
    ]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains(
            "inference-hpa.yaml:11:5: HorizontalPodAutoscaler/inference-hpa: key `spec.scaleTargetRef.name`: \
             names Deployment \"inference-deployment\", which the manifests do not hold"
        ),
        "{stderr}"
    );
}

/// Per-service series of `services.csv`: (service, desired replicas) per row.
fn desired_by_service(out: &std::path::Path) -> Vec<(String, u32)> {
    let text = std::fs::read_to_string(out.join("services.csv")).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (s, d) = (col("service"), col("desired_replicas"));
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[s].to_string(), f[d].parse().unwrap())
        })
        .collect()
}

/// Two Deployments and their HPAs (`scenarios/manifests-two/`) run as two services, bound by name
/// to the scenario's `[[service]]` tables; each HPA scales the Deployment its `scaleTargetRef`
/// names: embed's traffic rises and only embed grows.
#[test]
fn two_deployments_and_two_hpas_run_as_two_services_each_hpa_scaling_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("two");
    let (code, stdout, stderr) = capsim_text(&[
        "run",
        "scenarios/manifests-two.toml",
        "scenarios/manifests-two/",
        "--out",
        &path_str(&out),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    // Only the images are not modelled: the PDB bound to chat by its selector.
    assert_eq!(stderr.matches("warning:").count(), 2, "{stderr}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let services = v["services"].as_array().unwrap();
    let names: Vec<&str> = services
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["chat", "embed"]);
    let rows = desired_by_service(&out);
    let of = |name: &str| -> Vec<u32> {
        rows.iter()
            .filter(|(s, _)| s == name)
            .map(|(_, d)| *d)
            .collect()
    };
    let (chat, embed) = (of("chat"), of("embed"));
    assert!(!chat.is_empty() && !embed.is_empty(), "{rows:?}");
    // chat: its Deployment's 2 replicas, held by its HPA's minReplicas 2 under steady traffic.
    assert_eq!(chat[0], 2, "{chat:?}");
    assert!(chat.iter().all(|d| *d == 2), "chat never scaled: {chat:?}");
    // embed: its Deployment's 1 replica, scaled up by its own HPA (max 8) during its burst.
    assert_eq!(embed[0], 1, "{embed:?}");
    let max = *embed.iter().max().unwrap();
    assert!(
        (3..=8).contains(&max),
        "embed scaled within its HPA's bounds: {embed:?}"
    );
    // Replica-hours: chat 2 replicas all along (1.0 over the half hour), embed above its 1.
    let hours = |i: usize| services[i]["replica_hours"].as_f64().unwrap();
    assert!((hours(0) - 1.0).abs() < 1e-9, "{}", v["services"]);
    assert!(hours(1) > 0.75, "{}", v["services"]);
    // The effective scenario is the file as written; the manifests are recorded as inputs.
    let inputs = std::fs::read_to_string(out.join("inputs.csv")).unwrap();
    assert_eq!(inputs.matches("\nmanifest,").count(), 2, "{inputs}");
}

/// An autoscaler whose `scaleTargetRef` names no Deployment of the manifests is refused with the
/// file, the object, the field and the name, and nothing is written.
#[test]
fn an_autoscaler_whose_target_names_no_deployment_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let manifests = dir.path().join("manifests");
    std::fs::create_dir(&manifests).unwrap();
    for f in ["chat.yaml", "embed.yaml"] {
        let text = std::fs::read_to_string(format!("scenarios/manifests-two/{f}")).unwrap();
        std::fs::write(
            manifests.join(f),
            text.replace(
                "    name: embed\n  minReplicas",
                "    name: embedder\n  minReplicas",
            ),
        )
        .unwrap();
    }
    let out = dir.path().join("out");
    let (code, stdout, stderr) = capsim_text(&[
        "run",
        "scenarios/manifests-two.toml",
        &path_str(&manifests),
        "--out",
        &path_str(&out),
    ]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    for part in [
        "embed.yaml:36:5: HorizontalPodAutoscaler/embed: key `spec.scaleTargetRef.name`",
        "names Deployment \"embedder\", which the manifests do not hold",
        "Deployment/chat",
        "Deployment/embed",
    ] {
        assert!(stderr.contains(part), "`{part}` in {stderr}");
    }
    assert!(!out.exists(), "nothing written");
}

/// Several workloads meet a scenario with one `[service]` table: it cannot say which is which.
#[test]
fn several_workloads_need_the_scenarios_services_by_name() {
    let (code, stdout, stderr) = capsim_text(&[
        "validate",
        "scenarios/manifests-cluster.toml",
        "scenarios/manifests-two/",
    ]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("manifests-cluster.toml:")
            && stderr.contains("key `service`: the manifests hold 2 workloads"),
        "{stderr}"
    );
    assert!(
        stderr.contains("one [[service]] table per workload"),
        "{stderr}"
    );
    // A scenario whose [[service]] tables lack a workload's name.
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("s.toml");
    let text = std::fs::read_to_string("scenarios/manifests-two.toml").unwrap();
    std::fs::write(
        &scenario,
        text.replace("name = \"embed\"", "name = \"embedding\""),
    )
    .unwrap();
    let (code, stdout, stderr) =
        capsim_text(&["validate", &path_str(&scenario), "scenarios/manifests-two/"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("embed.yaml:6:3: Deployment/embed: key `metadata.name`: no [[service]] of the scenario is named \"embed\" (its services: chat, embedding)"),
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
            "v1.yaml:1:1: HorizontalPodAutoscaler/h: key `apiVersion`",
            "expected autoscaling/v2",
        ),
        (
            write(
                "minmax.yaml",
                "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: h}\n\
                 spec:\n  scaleTargetRef: {kind: Deployment, name: d}\n  minReplicas: 9\n  maxReplicas: 3\n",
            ),
            "minmax.yaml:7:3: HorizontalPodAutoscaler/h: key `spec.maxReplicas`",
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

/// The policy objects around a Deployment (PriorityClass, PodDisruptionBudget, ResourceQuota, the
/// rolling-update strategy and the namespace) map onto the scenario: the node failure and the
/// model upgrade in `scenarios/manifests-ops.toml` run under them.
#[test]
fn the_ops_manifests_map_strategy_pdb_quota_and_priority() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ops");
    let (code, stdout, stderr) = capsim_text(&[
        "run",
        "scenarios/manifests-ops.toml",
        "scenarios/manifests-ops/",
        "--out",
        &path_str(&out),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    // Only the image, the args and the quota's memory limit are not modelled.
    assert!(
        stderr.contains(
            "Deployment/chat: fields not modelled (ignored): spec.template.spec.containers[0].image, \
             spec.template.spec.containers[0].args[0], spec.template.spec.containers[0].args[1]\n"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "ResourceQuota/llm-gpus: fields not modelled (ignored): spec.hard.limits.memory\n"
        ),
        "{stderr}"
    );
    for kind in ["PriorityClass", "PodDisruptionBudget"] {
        assert!(!stderr.contains(kind), "{kind} is modelled whole: {stderr}");
    }
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    // The Deployment's strategy (maxSurge 1, maxUnavailable 0) drives the scenario's rollout.
    let r = &v["rollout"]["rollouts"][0];
    assert_eq!(r["strategy"], "RollingUpdate", "{r}");
    assert_eq!(r["max_surge"], 1, "{r}");
    assert_eq!(r["max_unavailable"], 0, "{r}");
    assert!(r["min_ready_minus_desired"].as_i64().unwrap() >= 0, "{r}");
    assert!(r["extra_node_hours"].as_f64().unwrap() > 0.0, "{r}");
    // The quota of namespace `llm` bounds the pods: 6 GPUs, 10 pods.
    let q = &v["cluster"]["quotas"][0];
    assert_eq!(q["namespace"], "llm", "{q}");
    assert_eq!(q["hard"]["nvidia.com/gpu"], 6.0, "{q}");
    assert!(
        q["peak_used"]["nvidia.com/gpu"].as_f64().unwrap() <= 6.0,
        "{q}"
    );
    // The node failure was healed: replicas came back.
    assert!(
        v["failures"]["replicas_recovered_s"].as_f64().is_some(),
        "{}",
        v["failures"]
    );
    // The effective scenario records what the manifests set.
    let eff = std::fs::read_to_string(out.join("scenario.toml")).unwrap();
    for key in [
        "[pdb]",
        "priority_class",
        "namespace = \"llm\"",
        "[service.strategy]",
    ] {
        assert!(
            eff.contains(key),
            "`{key}` in the effective scenario:\n{eff}"
        );
    }
}

/// With several Deployments, a Deployment's anti-affinity term that selects another
/// Deployment's pods is kept (it used to be left out as selecting none of its own pods) and
/// binds; a term that selects no workload's pods is still left out with a warning.
#[test]
fn a_deployments_anti_affinity_may_select_another_deployments_pods() {
    let dir = tempfile::tempdir().unwrap();
    let chat =
        std::fs::read_to_string(crate::common::root().join("scenarios/manifests-two/chat.yaml"))
            .unwrap();
    let embed = |selects: &str| {
        format!(
            "\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: embed}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: embed}}}}
  template:
    metadata:
      labels: {{app: embed}}
    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - topologyKey: kubernetes.io/hostname
              labelSelector: {{matchLabels: {{app: {selects}}}}}
      containers:
        - name: model
          resources:
            requests: {{cpu: \"1\", memory: 2Gi, nvidia.com/gpu: \"1\"}}
"
        )
    };
    std::fs::write(dir.path().join("chat.yaml"), &chat).unwrap();
    let validate = |selects: &str| {
        std::fs::write(dir.path().join("embed.yaml"), embed(selects)).unwrap();
        capsim_text(&[
            "validate",
            "scenarios/manifests-two.toml",
            &path_str(&dir.path().join("chat.yaml")),
            &path_str(&dir.path().join("embed.yaml")),
        ])
    };
    let (code, stdout, stderr) = validate("chat");
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(!stderr.contains("left out"), "{stderr}");
    let (code, stdout, stderr) = validate("nobody");
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stderr.contains("Deployment/embed")
            && stderr.contains("left out: spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]"),
        "{stderr}"
    );
}
