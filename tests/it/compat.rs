//! The compatibility list: every value a shipped scenario writes, checked against
//! `tests/compat/outputs.tsv`.
//!
//! Each shipped scenario (`scenarios/*.toml`, with its manifests where it needs them) runs with
//! `--requests`, and both sweep files run through `capsim sweep`. Every leaf of every JSON output
//! (`summary.json`, per-policy summaries, sweep manifests) is recorded by its JSON pointer and its
//! text; every CSV column (by name, so a new column anywhere passes) by its row count and an FNV-1a 64 hash of its cells. A value that moves
//! or disappears fails the test, naming the scenario, file, key, old and new value; new files and
//! keys pass. After an intended change, regenerate in the same commit and say why in its message:
//!
//! ```sh
//! UPDATE_COMPAT=1 cargo test --release --test it compat
//! ```

use crate::common::{capsim_text, root};
use std::collections::BTreeMap;
use std::path::Path;

/// The list, relative to the repository root.
const LIST: &str = "tests/compat/outputs.tsv";

/// One run: a label, the command line (the output folder is appended as `--out DIR`).
fn runs() -> Vec<(String, Vec<String>)> {
    let mut v = Vec::new();
    let mut files: Vec<String> = std::fs::read_dir(root().join("scenarios"))
        .expect("scenarios/")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    files.sort();
    for f in files {
        let path = format!("scenarios/{f}");
        let args: Vec<String> = if f.starts_with("sweep-") {
            vec!["sweep".into(), path, "--threads".into(), "2".into()]
        } else {
            let mut a = vec!["run".into(), path, "--requests".into()];
            // Scenarios whose Deployment comes from manifests.
            match f.as_str() {
                "manifests-cluster.toml" => a.push("scenarios/manifests/".into()),
                "kserve-cluster.toml" => a.push("scenarios/kserve/chat.yaml".into()),
                "manifests-ops.toml" => a.push("scenarios/manifests-ops/".into()),
                "manifests-two.toml" => a.push("scenarios/manifests-two/".into()),
                _ => {}
            }
            a
        };
        v.push((f.trim_end_matches(".toml").to_string(), args));
    }
    v
}

/// FNV-1a 64 over bytes.
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Every leaf of a JSON value, by JSON pointer.
fn leaves(v: &serde_json::Value, at: String, out: &mut BTreeMap<String, String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                let k = k.replace('~', "~0").replace('/', "~1");
                leaves(x, format!("{at}/{k}"), out);
            }
        }
        serde_json::Value::Array(a) => {
            if a.is_empty() {
                out.insert(at.clone(), "[]".into());
            }
            for (i, x) in a.iter().enumerate() {
                leaves(x, format!("{at}/{i}"), out);
            }
        }
        other => {
            out.insert(
                if at.is_empty() { "/".into() } else { at },
                other.to_string(),
            );
        }
    }
}

/// Per column: `rows=N fnv=HASH` of its cells (a simple split: capsim's CSVs quote no commas
/// except in free text, which then hashes as its pieces, consistently).
fn columns(text: &str, out: &mut BTreeMap<String, String>) {
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        out.insert("(empty)".into(), "".into());
        return;
    };
    let names: Vec<&str> = header.split(',').collect();
    let mut hashes = vec![0xcbf2_9ce4_8422_2325u64; names.len()];
    let mut rows = 0u64;
    for line in lines {
        rows += 1;
        let cells: Vec<&str> = line.split(',').collect();
        for (i, h) in hashes.iter_mut().enumerate() {
            let cell = cells.get(i).copied().unwrap_or("");
            let mut bytes = cell.as_bytes().to_vec();
            bytes.push(b'\n');
            *h ^= fnv1a64(&bytes);
            *h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    for (i, n) in names.iter().enumerate() {
        out.insert(n.to_string(), format!("rows={rows} fnv={:016x}", hashes[i]));
    }
}

/// Records every JSON and CSV file under `dir` as `file -> key -> value`.
fn record(dir: &Path, rel: &str, out: &mut BTreeMap<(String, String), String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("output folder")
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        let file = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        if path.is_dir() {
            record(&path, &file, out);
            continue;
        }
        let mut keys = BTreeMap::new();
        if name.ends_with(".json") {
            let text = std::fs::read_to_string(&path).expect("json");
            let v: serde_json::Value = serde_json::from_str(&text).expect("valid json");
            leaves(&v, String::new(), &mut keys);
        } else if name.ends_with(".csv") {
            columns(&std::fs::read_to_string(&path).expect("csv"), &mut keys);
        } else {
            continue;
        }
        for (k, v) in keys {
            out.insert((file.clone(), k), v);
        }
    }
}

/// Runs everything and returns `scenario -> (file, key) -> value`.
fn observe() -> BTreeMap<String, BTreeMap<(String, String), String>> {
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut all = BTreeMap::new();
    for (label, mut args) in runs() {
        let out = tmp.path().join(&label);
        args.push("--out".into());
        args.push(out.to_string_lossy().into_owned());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, stdout, stderr) = capsim_text(&refs);
        // Exit 3: a [[check]] failed, which is a result like any other.
        assert!(
            code == 0 || code == 3,
            "{label}: capsim {} exited {code}\n{stdout}\n{stderr}",
            args.join(" ")
        );
        let mut values = BTreeMap::new();
        record(&out, "", &mut values);
        all.insert(label, values);
    }
    all
}

#[test]
fn compat_shipped_scenario_outputs_unchanged() {
    let now = observe();
    let path = root().join(LIST);
    if std::env::var_os("UPDATE_COMPAT").is_some() {
        let mut text = String::from("# scenario\tfile\tkey\tvalue (UPDATE_COMPAT=1 cargo test --release --test it compat)\n");
        for (s, values) in &now {
            for ((f, k), v) in values {
                text.push_str(&format!("{s}\t{f}\t{k}\t{v}\n"));
            }
        }
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        return;
    }
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{LIST}: {e}; generate it with UPDATE_COMPAT=1"));
    let mut moved = Vec::new();
    let mut checked = 0usize;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let mut parts = line.splitn(4, '\t');
        let (Some(s), Some(f), Some(k), Some(old)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            panic!("{LIST}: malformed line {line:?}");
        };
        checked += 1;
        let new = now
            .get(s)
            .and_then(|v| v.get(&(f.to_string(), k.to_string())));
        match new {
            Some(n) if n == old => {}
            Some(n) => moved.push(format!("{s}: {f} {k}: was {old}, now {n}")),
            None => moved.push(format!("{s}: {f} {k}: was {old}, now missing")),
        }
    }
    assert!(checked > 1000, "{LIST} holds only {checked} values");
    assert!(
        moved.is_empty(),
        "{} shipped output values moved (regenerate with UPDATE_COMPAT=1 only after an intended change, and say why in the commit):\n{}",
        moved.len(),
        moved.iter().take(40).cloned().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn compat_column_hash_sees_a_changed_cell() {
    let mut a = BTreeMap::new();
    let mut b = BTreeMap::new();
    columns("t,x\n1,2\n2,3\n", &mut a);
    columns("t,x\n1,2\n2,4\n", &mut b);
    assert_eq!(a.get("t"), b.get("t"));
    assert_ne!(a.get("x"), b.get("x"));
    // Swapping two rows moves the hash too.
    let mut c = BTreeMap::new();
    columns("t,x\n2,3\n1,2\n", &mut c);
    assert_ne!(a.get("t"), c.get("t"));
}
