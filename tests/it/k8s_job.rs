//! `capsim sweep --emit-k8s-job`: the ConfigMap carries the sweep's files byte for byte, each
//! mounted at its own path below `/work`; large files come from the inputs claim; inputs over the
//! limits without a claim are refused, naming the file and the limit.

use crate::common::{capsim_text, root};
use std::path::Path;
use std::process::Command;
use yaml_rust2::{Yaml, YamlLoader};

/// Runs capsim in `dir`; returns (exit code, stdout, stderr).
fn capsim_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_capsim"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("capsim runs");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The emitted stream's documents: (ConfigMap, Job).
fn objects(yaml: &str) -> (Yaml, Yaml) {
    let docs = YamlLoader::load_from_str(yaml).unwrap_or_else(|e| panic!("{e}:\n{yaml}"));
    assert_eq!(docs.len(), 2, "{yaml}");
    assert_eq!(docs[0]["kind"].as_str(), Some("ConfigMap"));
    assert_eq!(docs[1]["kind"].as_str(), Some("Job"));
    (docs[0].clone(), docs[1].clone())
}

/// (volume, mountPath, subPath) of each of the container's mounts.
fn mounts(job: &Yaml) -> Vec<(String, String, String)> {
    let c = &job["spec"]["template"]["spec"]["containers"][0];
    c["volumeMounts"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|m| {
            let s = |k: &str| m[k].as_str().unwrap_or("").to_string();
            (s("name"), s("mountPath"), s("subPath"))
        })
        .collect()
}

/// The volume named `name`.
fn volume<'a>(job: &'a Yaml, name: &str) -> &'a Yaml {
    job["spec"]["template"]["spec"]["volumes"]
        .as_vec()
        .unwrap()
        .iter()
        .find(|v| v["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no volume {name}"))
}

/// The ConfigMap's items: (key, path).
fn items(job: &Yaml) -> Vec<(String, String)> {
    volume(job, "inputs")["configMap"]["items"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["key"].as_str().unwrap().to_string(),
                i["path"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 253
        && k != "."
        && k != ".."
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[test]
fn the_configmap_carries_the_sweep_and_its_scenario_at_their_paths() {
    let (code, yaml, err) = capsim_text(&[
        "sweep",
        "scenarios/sweep-replicas.toml",
        "--emit-k8s-job",
        "3",
        "--set",
        "simulation.seed=7",
    ]);
    assert_eq!(code, 0, "{err}");
    let (cm, job) = objects(&yaml);
    let name = cm["metadata"]["name"].as_str().unwrap();
    assert_eq!(name, "capsim-sweep-replicas-inputs");
    assert_eq!(
        volume(&job, "inputs")["configMap"]["name"].as_str(),
        Some(name)
    );
    let items = items(&job);
    let paths: Vec<&str> = items.iter().map(|(_, p)| p.as_str()).collect();
    assert_eq!(
        paths,
        ["scenarios/quickstart.toml", "scenarios/sweep-replicas.toml"]
    );
    // Every key is a valid ConfigMap key holding the file's bytes; keys are sorted.
    let data = cm["data"].as_hash().unwrap();
    let keys: Vec<&str> = data.keys().map(|k| k.as_str().unwrap()).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert_eq!(keys.len(), items.len());
    for (key, path) in &items {
        assert!(valid_key(key), "{key}");
        let want = std::fs::read_to_string(root().join(path)).unwrap();
        assert_eq!(
            data[&Yaml::String(key.clone())].as_str(),
            Some(want.as_str())
        );
    }
    // The working folder is an emptyDir; each file is mounted at /work/<path>, read-only.
    let m = mounts(&job);
    assert_eq!(m[0], ("work".into(), "/work".into(), String::new()));
    for (_, path) in &items {
        assert!(
            m.contains(&("inputs".into(), format!("/work/{path}"), path.clone())),
            "{path} not mounted: {m:?}"
        );
    }
    assert!(m.contains(&("results".into(), "/results".into(), String::new())));
    assert_eq!(
        volume(&job, "results")["persistentVolumeClaim"]["claimName"].as_str(),
        Some("capsim-results")
    );
    let c = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["workingDir"].as_str(), Some("/work"));
    let args: Vec<&str> = c["args"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        args,
        [
            "sweep",
            "scenarios/sweep-replicas.toml",
            "--shard",
            "$(JOB_COMPLETION_INDEX)/3",
            "--out",
            "/results/shard-$(JOB_COMPLETION_INDEX)",
            "--set",
            "simulation.seed=7"
        ]
    );
    assert_eq!(job["spec"]["completionMode"].as_str(), Some("Indexed"));
    assert_eq!(job["spec"]["completions"].as_i64(), Some(3));
    // Same input, same bytes.
    let (_, again, _) = capsim_text(&[
        "sweep",
        "scenarios/sweep-replicas.toml",
        "--emit-k8s-job",
        "3",
        "--set",
        "simulation.seed=7",
    ]);
    assert_eq!(yaml, again);
}

/// A folder holding `s/sweep.toml` over `s/base.toml` (the Azure code replay), whose trace is
/// `s/traces/code.csv`; `extra` traces are written beside it.
fn trace_sweep(axis: &str, extra: &[(&str, Vec<u8>)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("s");
    std::fs::create_dir_all(s.join("traces")).unwrap();
    let base = std::fs::read_to_string(root().join("scenarios/azure-code-replay.toml"))
        .unwrap()
        .replace(
            "traces/azure-llm-inference-2023/AzureLLMInferenceTrace_code.csv",
            "traces/code.csv",
        );
    std::fs::write(s.join("base.toml"), base).unwrap();
    std::fs::copy(
        root().join("scenarios/traces/azure-llm-inference-2023/AzureLLMInferenceTrace_code.csv"),
        s.join("traces/code.csv"),
    )
    .unwrap();
    for (name, bytes) in extra {
        std::fs::write(s.join("traces").join(name), bytes).unwrap();
    }
    std::fs::write(
        s.join("sweep.toml"),
        format!("scenario = \"base.toml\"\n\n[[axis]]\n{axis}\n"),
    )
    .unwrap();
    dir
}

#[test]
fn a_large_trace_comes_from_the_inputs_claim_or_is_refused() {
    let dir = trace_sweep("key = \"service.replicas\"\nvalues = [4, 6]", &[]);
    let (code, out, err) = capsim_in(
        dir.path(),
        &["sweep", "s/sweep.toml", "--emit-k8s-job", "2"],
    );
    assert_eq!(code, 2, "{out}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("s/traces/code.csv: 313 KiB"), "{err}");
    assert!(err.contains("over the 256 KiB"), "{err}");
    assert!(err.contains("--inputs-pvc NAME"), "{err}");

    let (code, yaml, err) = capsim_in(
        dir.path(),
        &[
            "sweep",
            "s/sweep.toml",
            "--emit-k8s-job",
            "2",
            "--inputs-pvc",
            "traces",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (cm, job) = objects(&yaml);
    let paths: Vec<String> = items(&job).into_iter().map(|(_, p)| p).collect();
    assert_eq!(paths, ["s/base.toml", "s/sweep.toml"]);
    assert_eq!(cm["data"].as_hash().unwrap().len(), 2);
    let m = mounts(&job);
    assert!(
        m.contains(&(
            "large-inputs".into(),
            "/work/s/traces/code.csv".into(),
            "s/traces/code.csv".into()
        )),
        "{m:?}"
    );
    let claim = &volume(&job, "large-inputs")["persistentVolumeClaim"];
    assert_eq!(claim["claimName"].as_str(), Some("traces"));
    assert_eq!(claim["readOnly"].as_bool(), Some(true));

    // --pvc-input takes a small file from the claim too; a file the sweep does not read is named.
    let (code, yaml, err) = capsim_in(
        dir.path(),
        &[
            "sweep",
            "s/sweep.toml",
            "--emit-k8s-job",
            "2",
            "--inputs-pvc",
            "traces",
            "--pvc-input",
            "s/base.toml",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (_, job) = objects(&yaml);
    assert_eq!(
        items(&job),
        [("s_sweep.toml".into(), "s/sweep.toml".into())]
    );
    assert!(mounts(&job).contains(&(
        "large-inputs".into(),
        "/work/s/base.toml".into(),
        "s/base.toml".into()
    )));
    let (code, _, err) = capsim_in(
        dir.path(),
        &[
            "sweep",
            "s/sweep.toml",
            "--emit-k8s-job",
            "2",
            "--inputs-pvc",
            "traces",
            "--pvc-input",
            "s/other.csv",
        ],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("--pvc-input s/other.csv: not a file the sweep reads"),
        "{err}"
    );
    let (code, _, err) = capsim_in(
        dir.path(),
        &[
            "sweep",
            "s/sweep.toml",
            "--emit-k8s-job",
            "2",
            "--inputs-pvc",
            "Bad_Name",
        ],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("--inputs-pvc Bad_Name: expected a PersistentVolumeClaim name"),
        "{err}"
    );
}

#[test]
fn inputs_over_the_configmap_limit_are_refused_and_binary_files_go_base64() {
    // Five traces of 240 KiB each: each fits, together they pass 1 MiB.
    let code = std::fs::read(
        root().join("scenarios/traces/azure-llm-inference-2023/AzureLLMInferenceTrace_code.csv"),
    )
    .unwrap();
    let mut cut = 240 * 1024;
    while code[cut - 1] != b'\n' {
        cut -= 1;
    }
    let part = code[..cut].to_vec();
    let names = ["t1.csv", "t2.csv", "t3.csv", "t4.csv", "t5.csv"];
    let extra: Vec<(&str, Vec<u8>)> = names.iter().map(|n| (*n, part.clone())).collect();
    let values: Vec<String> = names.iter().map(|n| format!("\"traces/{n}\"")).collect();
    let dir = trace_sweep(
        &format!("key = \"traffic.path\"\nvalues = [{}]", values.join(", ")),
        &extra,
    );
    let (code, out, err) = capsim_in(
        dir.path(),
        &["sweep", "s/sweep.toml", "--emit-k8s-job", "5"],
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        err.contains("over Kubernetes' 1.0 MiB limit on a ConfigMap"),
        "{err}"
    );
    assert!(err.contains("s/traces/t1.csv (240 KiB)"), "{err}");

    // A file with CRLF line ends goes to binaryData, byte for byte.
    let crlf = b"TIMESTAMP,ContextTokens,GeneratedTokens\r\n2023-11-16 18:15:46.6805900,374,44\r\n";
    let dir = trace_sweep(
        "key = \"traffic.path\"\nvalues = [\"traces/crlf.csv\"]",
        &[("crlf.csv", crlf.to_vec())],
    );
    let (code, yaml, err) = capsim_in(
        dir.path(),
        &[
            "sweep",
            "s/sweep.toml",
            "--emit-k8s-job",
            "1",
            "--inputs-pvc",
            "traces",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (cm, job) = objects(&yaml);
    let key = items(&job)
        .into_iter()
        .find(|(_, p)| p == "s/traces/crlf.csv")
        .unwrap()
        .0;
    assert_eq!(key, "s_traces_crlf.csv");
    let b64 = cm["binaryData"][key.as_str()].as_str().unwrap();
    assert_eq!(
        b64,
        "VElNRVNUQU1QLENvbnRleHRUb2tlbnMsR2VuZXJhdGVkVG9rZW5zDQoyMDIzLTExLTE2IDE4OjE1OjQ2LjY4MDU5MDAsMzc0LDQ0DQo="
    );
}

#[test]
fn files_outside_the_current_folder_lie_below_their_common_folder() {
    let dir = trace_sweep("key = \"service.replicas\"\nvalues = [4]", &[]);
    let (code, yaml, err) = capsim_in(
        &dir.path().join("s/traces"),
        &[
            "sweep",
            "../sweep.toml",
            "--emit-k8s-job",
            "1",
            "--inputs-pvc",
            "traces",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (_, job) = objects(&yaml);
    let paths: Vec<String> = items(&job).into_iter().map(|(_, p)| p).collect();
    assert_eq!(paths, ["base.toml", "sweep.toml"]);
    assert!(mounts(&job).contains(&(
        "large-inputs".into(),
        "/work/traces/code.csv".into(),
        "traces/code.csv".into()
    )));
    let c = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["args"][1].as_str(), Some("sweep.toml"));
    assert!(yaml.contains("# /work stands for /"), "{yaml}");
}
