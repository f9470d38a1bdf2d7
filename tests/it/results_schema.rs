//! One results schema: every `summary.json` a shipped scenario writes, with each optional section
//! (failures, client, rollout, tenants, batch, quotas, preemption, Karpenter, VPA, MIG layouts,
//! time-slicing), reads into `capsim_results::Summary` and writes back byte for byte.

use crate::common::{capsim_text, root};
use std::path::{Path, PathBuf};

fn summaries(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            summaries(&p, out);
        } else if p.file_name().is_some_and(|n| n == "summary.json") {
            out.push(p);
        }
    }
}

#[test]
fn shipped_summaries_read_and_write_back_identically() {
    let tmp = tempfile::tempdir().unwrap();
    let mut sections = std::collections::BTreeSet::new();
    let mut files = Vec::new();
    for name in [
        "node-failure",
        "manifests-ops",
        "batch-beside-serving",
        "tenant-mix",
        "tenants",
        "karpenter-vs-ca",
        "mig-vs-whole",
    ] {
        let out = tmp.path().join(name);
        let scenario = root().join(format!("scenarios/{name}.toml"));
        let (code, _, err) = capsim_text(&[
            "run",
            scenario.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{name}: {err}");
        summaries(&out, &mut files);
    }
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let s: capsim_results::Summary =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert_eq!(
            capsim_results::summary_json(&s),
            text,
            "{} changed on a round trip",
            f.display()
        );
        let c = s.cluster.as_ref();
        for (key, present) in [
            ("failures", s.failures.is_some()),
            ("client", s.client.is_some()),
            ("rollout", s.rollout.is_some()),
            ("tenants", !s.tenants.is_empty()),
            ("batch", c.is_some_and(|c| c.batch.is_some())),
            ("quotas", c.is_some_and(|c| !c.quotas.is_empty())),
            ("preemption", c.is_some_and(|c| c.preemption.is_some())),
            ("karpenter", c.is_some_and(|c| c.karpenter.is_some())),
            ("vpa", c.is_some_and(|c| c.vpa.is_some())),
            (
                "mig_layout",
                c.is_some_and(|c| c.pools.iter().any(|p| p.mig_layout.is_some())),
            ),
            (
                "time_slicing_replicas",
                c.is_some_and(|c| c.pools.iter().any(|p| p.time_slicing_replicas.is_some())),
            ),
            ("tokens", s.tokens.is_some()),
        ] {
            if present {
                sections.insert(key);
            }
        }
    }
    assert_eq!(
        sections.len(),
        12,
        "the scenarios cover every optional section; covered: {sections:?}"
    );
}
