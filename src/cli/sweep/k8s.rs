//! `--emit-k8s-job`: the Kubernetes objects that run a sweep on a cluster with a stock capsim
//! image. A ConfigMap carries the sweep file, its base scenario and the small files they read;
//! an Indexed Job runs shard I/N in pod I, in a working folder `/work` where each of those files
//! sits at the path it has below the current folder (or, when some lie outside it, below the
//! deepest folder that holds them all), so relative paths resolve as they do on this machine. Files over
//! [`INLINE_FILE_LIMIT`] (and those named with `--pvc-input`) come from a PersistentVolumeClaim
//! the user names (`--inputs-pvc`), at the same relative paths; results go to the claim
//! `capsim-results`, one folder per shard.

use super::Plan;
use crate::cli::error::CliError;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

/// A file larger than this (bytes) is not carried in the ConfigMap: it must come from the inputs
/// claim (`--inputs-pvc`).
pub const INLINE_FILE_LIMIT: u64 = 256 * 1024;

/// Kubernetes' limit on a ConfigMap's data: the bytes of its keys and values together (1 MiB).
pub const CONFIGMAP_LIMIT: u64 = 1024 * 1024;

/// The claim the shards write their results to, mounted at `/results`.
pub const RESULTS_CLAIM: &str = "capsim-results";

/// What `--emit-k8s-job` was asked for.
pub struct JobOptions<'a> {
    /// Shards (pods).
    pub shards: usize,
    /// The container image (default `capsim:<version>`).
    pub image: Option<&'a str>,
    /// A PersistentVolumeClaim holding the large input files at their relative paths.
    pub inputs_pvc: Option<&'a str>,
    /// Input files to take from that claim whatever their size.
    pub pvc_inputs: &'a [PathBuf],
}

/// One file the sweep reads, placed in the pod's working folder.
struct Input {
    /// Where to read it here.
    full: PathBuf,
    /// Its size in bytes.
    size: u64,
}

/// Where a file comes from in the pod.
enum Source {
    /// The ConfigMap, under this key, as text (`data`) or base64 (`binaryData`).
    ConfigMap {
        key: String,
        text: Option<String>,
        bytes: Vec<u8>,
    },
    /// The inputs claim.
    Claim,
}

/// The components of `path` made absolute (below the current folder `here`), with `.` and `..`
/// resolved lexically.
fn absolute(path: &Path, here: &Path) -> Vec<String> {
    let mut parts: Vec<String> = Vec::new();
    for c in here.join(path).components() {
        match c {
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                parts.pop();
            }
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
        }
    }
    parts
}

/// The folder the pod's `/work` stands for: the current folder when every file lies below it,
/// else the deepest folder that holds them all.
fn root(files: &[Vec<String>], here: &[String]) -> Vec<String> {
    if files
        .iter()
        .all(|f| f.len() > here.len() && f.starts_with(here))
    {
        return here.to_vec();
    }
    let mut common: Vec<String> = files
        .first()
        .map(|f| f[..f.len().saturating_sub(1)].to_vec())
        .unwrap_or_default();
    for f in files {
        let n = common
            .iter()
            .zip(&f[..f.len().saturating_sub(1)])
            .take_while(|(a, b)| a == b)
            .count();
        common.truncate(n);
    }
    common
}

/// The current folder.
fn current_dir() -> Result<PathBuf, CliError> {
    std::env::current_dir()
        .map_err(|e| CliError::Io(format!("cannot read the current folder: {e}")))
}

/// Where the sweep's files lie: the folder `/work` stands for, and each file below it.
struct Layout {
    /// The folder's components (the current folder's, mostly).
    root: Vec<String>,
    /// The current folder's components.
    here: Vec<String>,
    /// Each file by its path below the folder (`/`-separated).
    files: BTreeMap<String, Input>,
}

impl Layout {
    /// `path`'s place below the root, if it lies below it.
    fn place_of(&self, path: &Path) -> Result<String, CliError> {
        let parts = absolute(path, &current_dir()?);
        if parts.len() > self.root.len() && parts.starts_with(&self.root) {
            Ok(parts[self.root.len()..].join("/"))
        } else {
            Err(CliError::Input(format!(
                "{}: not below /{}, the folder the pod's /work stands for",
                path.display(),
                self.root.join("/")
            )))
        }
    }
}

/// Every file the sweep reads: the sweep file, its base scenario, and the catalogs, traces, token
/// samples and profiles that any point (and any policy variant) names, by path below `/work`.
fn inputs(sweep: &Path, plan: &Plan) -> Result<Layout, CliError> {
    let files: Vec<(PathBuf, &str)> = plan
        .input_files(sweep)?
        .into_iter()
        .map(|f| (f.full, f.role))
        .collect();
    let here = current_dir()?;
    let parts: Vec<Vec<String>> = files.iter().map(|(f, _)| absolute(f, &here)).collect();
    let here = absolute(Path::new(""), &here);
    let root = root(&parts, &here);
    let mut out = BTreeMap::new();
    for ((full, what), parts) in files.into_iter().zip(parts) {
        let path = parts[root.len()..].join("/");
        if out.contains_key(&path) {
            continue;
        }
        let meta = std::fs::metadata(&full).map_err(|e| {
            CliError::Input(format!("{}: cannot read the {what}: {e}", full.display()))
        })?;
        if !meta.is_file() {
            return Err(CliError::Input(format!(
                "{}: the {what} is not a file",
                full.display()
            )));
        }
        out.insert(
            path,
            Input {
                full,
                size: meta.len(),
            },
        );
    }
    Ok(Layout {
        root,
        here,
        files: out,
    })
}

/// A valid ConfigMap key for `path` (letters, digits, `-`, `_` and `.`; at most 253 bytes),
/// distinct from those `taken`.
fn key_for(path: &str, taken: &BTreeMap<String, String>) -> String {
    let mut base: String = path
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    base.truncate(240);
    if base.is_empty() || base == "." || base == ".." {
        base = "file".into();
    }
    let mut key = base.clone();
    let mut n = 2;
    while taken.contains_key(&key) {
        key = format!("{base}-{n}");
        n += 1;
    }
    key
}

/// `name` as a DNS label: lowercase letters, digits and `-`, starting and ending with an
/// alphanumeric, at most `max` bytes.
fn dns_label(name: &str, max: usize) -> String {
    let mut s: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    s.truncate(max);
    let s = s.trim_matches('-').to_string();
    if s.is_empty() {
        "sweep".into()
    } else {
        s
    }
}

/// Whether `name` is a valid object name (a DNS-1123 subdomain, as claims are named).
fn valid_object_name(name: &str) -> bool {
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !name.is_empty()
        && name.len() <= 253
        && name.chars().all(|c| ok(c) || c == '-' || c == '.')
        && name.starts_with(ok)
        && name.ends_with(ok)
}

/// `s` as a YAML double-quoted scalar: `"` and `\` escaped, non-printable characters as `\uXXXX`.
pub fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            '\t' => q.push_str("\\t"),
            c if !printable(c) => {
                let _ = write!(q, "\\u{:04x}", c as u32);
            }
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// Whether YAML may hold `c` as written inside a scalar (its printable set, less the characters
/// some parsers read as line breaks or a byte-order mark).
fn printable(c: char) -> bool {
    let n = c as u32;
    (0x20..0x7f).contains(&n)
        || (0xa0..=0xfffd).contains(&n) && !matches!(n, 0x2028 | 0x2029 | 0xfeff)
        || n >= 0x10000
}

/// The text of `bytes` when it can be written as a YAML literal block that reads back to the
/// same bytes: UTF-8, printable characters, tabs and `\n` line ends only, not empty.
fn block_text(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?;
    (!text.is_empty() && text.chars().all(|c| c == '\n' || c == '\t' || printable(c)))
        .then(|| text.to_string())
}

/// `text` as a YAML literal block scalar indented by `indent` spaces, starting after the key's
/// colon: the header (`|`, `|-` or `|+`, with an indentation indicator when the first line
/// starts with a space), then each line indented.
fn block(text: &str, indent: usize) -> String {
    let trailing = text.len() - text.trim_end_matches('\n').len();
    let chomp = match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    };
    let body = text.trim_end_matches('\n');
    let first = body.lines().find(|l| !l.is_empty()).unwrap_or("");
    let indicator = if first.starts_with(' ') || body.starts_with('\n') {
        "2"
    } else {
        ""
    };
    let pad = " ".repeat(indent);
    let mut out = format!(" |{indicator}{chomp}\n");
    for line in text.split_inclusive('\n') {
        let line = line.strip_suffix('\n').unwrap_or(line);
        if line.is_empty() {
            out.push('\n');
        } else {
            let _ = writeln!(out, "{pad}{line}");
        }
    }
    out
}

/// Standard base64 (with padding) of `bytes`.
fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Bytes as a person reads them (`1.2 MiB`, `300 KiB`, `12 bytes`).
fn size(n: u64) -> String {
    if n >= 1024 * 1024 {
        format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
    } else if n >= 1024 {
        format!("{:.0} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} bytes")
    }
}

/// Decides where each input comes from and reads those the ConfigMap carries; refuses a file over
/// the limits without a claim, naming it and the limit.
fn place(layout: &Layout, opts: &JobOptions) -> Result<BTreeMap<String, Source>, CliError> {
    let files = &layout.files;
    let mut on_claim = BTreeMap::new();
    for f in opts.pvc_inputs {
        let path = layout.place_of(f).unwrap_or_default();
        if !files.contains_key(&path) {
            return Err(CliError::Input(format!(
                "--pvc-input {}: not a file the sweep reads; expected one of: {}",
                f.display(),
                files.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
        on_claim.insert(path, ());
    }
    let mut keys: BTreeMap<String, String> = BTreeMap::new();
    let mut out = BTreeMap::new();
    let mut total = 0u64;
    for (path, f) in files {
        if on_claim.contains_key(path) || f.size > INLINE_FILE_LIMIT {
            if opts.inputs_pvc.is_none() {
                return Err(CliError::Input(format!(
                    "{path}: {} ({} bytes), over the {} a file may bring in the Job's ConfigMap; copy it into a PersistentVolumeClaim at that path (below the claim's root) and name the claim with --inputs-pvc NAME",
                    size(f.size),
                    f.size,
                    size(INLINE_FILE_LIMIT)
                )));
            }
            out.insert(path.clone(), Source::Claim);
            continue;
        }
        let bytes = std::fs::read(&f.full)
            .map_err(|e| CliError::Input(format!("{}: cannot read: {e}", f.full.display())))?;
        let key = key_for(path, &keys);
        keys.insert(key.clone(), path.clone());
        total += key.len() as u64 + bytes.len() as u64;
        out.insert(
            path.clone(),
            Source::ConfigMap {
                key,
                text: block_text(&bytes),
                bytes,
            },
        );
    }
    if total > CONFIGMAP_LIMIT {
        let mut inline: Vec<(&String, u64)> = files
            .iter()
            .filter(|(p, _)| matches!(out[*p], Source::ConfigMap { .. }))
            .map(|(p, f)| (p, f.size))
            .collect();
        inline.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let largest: Vec<String> = inline
            .iter()
            .take(3)
            .map(|(p, n)| format!("{p} ({})", size(*n)))
            .collect();
        return Err(CliError::Input(format!(
            "the sweep's inputs come to {} ({total} bytes with their keys), over Kubernetes' {} limit on a ConfigMap; the largest: {}; take some from a PersistentVolumeClaim with --inputs-pvc NAME --pvc-input FILE",
            size(total),
            size(CONFIGMAP_LIMIT),
            largest.join(", ")
        )));
    }
    Ok(out)
}

/// The ConfigMap and the Indexed Job running every shard of the sweep, one pod per shard, as one
/// YAML stream for `kubectl apply -f`.
pub fn k8s_job(sweep: &Path, plan: &Plan, opts: &JobOptions) -> Result<String, CliError> {
    let shards = opts.shards;
    let points = plan.sweep.points.len();
    if shards == 0 || shards > points {
        return Err(CliError::Input(format!(
            "--emit-k8s-job {shards}: expected 1 to {points} shards (the sweep has {points} points)"
        )));
    }
    if let Some(claim) = opts.inputs_pvc {
        if !valid_object_name(claim) {
            return Err(CliError::Input(format!(
                "--inputs-pvc {claim}: expected a PersistentVolumeClaim name (lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit)"
            )));
        }
    } else if !opts.pvc_inputs.is_empty() {
        return Err(CliError::Input(
            "--pvc-input: expected --inputs-pvc NAME, the claim that holds the file".into(),
        ));
    }
    let stem = sweep
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Pods carry the Job's name in a label (at most 63 bytes) with a suffix.
    let name = format!("capsim-{}", dns_label(&stem, 40));
    let config = format!("{name}-inputs");
    let image = opts
        .image
        .map(str::to_string)
        .unwrap_or_else(|| format!("capsim:{}", sim_core::results::VERSION));
    let layout = inputs(sweep, plan)?;
    let sources = place(&layout, opts)?;
    let sweep_path = layout.place_of(sweep)?;
    // Comments hold paths as written, less any line break.
    let plain = |s: &str| s.replace(|c: char| c.is_control(), "?");

    let mut y = String::new();
    let _ = writeln!(
        y,
        "# capsim sweep {}: {points} points in {shards} shards; pod I runs shard I/{shards}
# (JOB_COMPLETION_INDEX) into /results/shard-I on the claim {RESULTS_CLAIM}. The ConfigMap carries
# the sweep's files; each sits at its own path below the working folder /work.
# Apply with `kubectl apply -f`; when the Job completes, gather the folders and run
#   capsim merge shard-* --out merged",
        plain(&sweep_path)
    );
    if layout.root != layout.here {
        let _ = writeln!(
            y,
            "# /work stands for /{}, the folder that holds every file the sweep reads.",
            plain(&layout.root.join("/"))
        );
    }
    let claimed: Vec<&String> = sources
        .iter()
        .filter(|(_, s)| matches!(s, Source::Claim))
        .map(|(p, _)| p)
        .collect();
    if let Some(claim) = opts.inputs_pvc {
        let _ = writeln!(
            y,
            "# From the claim {claim}, at the same paths: {}",
            if claimed.is_empty() {
                "nothing (every file fits the ConfigMap)".to_string()
            } else {
                claimed
                    .iter()
                    .map(|p| plain(p))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
    }
    // The ConfigMap, keys sorted.
    let mut by_key: BTreeMap<&str, (&Option<String>, &Vec<u8>)> = BTreeMap::new();
    for s in sources.values() {
        if let Source::ConfigMap { key, text, bytes } = s {
            by_key.insert(key, (text, bytes));
        }
    }
    let _ = writeln!(
        y,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {config}\n  labels:\n    app.kubernetes.io/name: capsim\n    app.kubernetes.io/instance: {name}"
    );
    let text: Vec<(&str, &String)> = by_key
        .iter()
        .filter_map(|(k, (t, _))| t.as_ref().map(|t| (*k, t)))
        .collect();
    let binary: Vec<(&str, &Vec<u8>)> = by_key
        .iter()
        .filter(|(_, (t, _))| t.is_none())
        .map(|(k, (_, b))| (*k, *b))
        .collect();
    if !text.is_empty() {
        y.push_str("data:\n");
        for (k, t) in text {
            let _ = write!(y, "  {k}:{}", block(t, 4));
        }
    }
    if !binary.is_empty() {
        y.push_str("binaryData:\n");
        for (k, b) in binary {
            let _ = writeln!(y, "  {k}: {}", base64(b));
        }
    }
    // The Job.
    let sets: String = plan
        .sets
        .iter()
        .map(|s| format!("            - --set\n            - {}\n", quote(s)))
        .collect();
    let _ = write!(
        y,
        "---
apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
  labels:
    app.kubernetes.io/name: capsim
    app.kubernetes.io/instance: {name}
spec:
  completionMode: Indexed
  completions: {shards}
  parallelism: {shards}
  backoffLimit: 6
  template:
    metadata:
      labels:
        app.kubernetes.io/name: capsim
        app.kubernetes.io/instance: {name}
    spec:
      restartPolicy: Never
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        runAsGroup: 65532
        fsGroup: 65532
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: capsim
          image: {image}
          workingDir: /work
          env:
            - name: JOB_COMPLETION_INDEX
              valueFrom:
                fieldRef:
                  fieldPath: metadata.annotations['batch.kubernetes.io/job-completion-index']
          args:
            - sweep
            - {sweep}
            - --shard
            - \"$(JOB_COMPLETION_INDEX)/{shards}\"
            - --out
            - \"/results/shard-$(JOB_COMPLETION_INDEX)\"
{sets}          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: [\"ALL\"]
          volumeMounts:
            - name: work
              mountPath: /work
",
        image = quote(&image),
        sweep = quote(&sweep_path),
    );
    for (path, s) in &sources {
        let volume = match s {
            Source::ConfigMap { .. } => "inputs",
            Source::Claim => "large-inputs",
        };
        let _ = write!(
            y,
            "            - name: {volume}\n              mountPath: {}\n              subPath: {}\n              readOnly: true\n",
            quote(&format!("/work/{path}")),
            quote(path)
        );
    }
    let _ = write!(
        y,
        "            - name: results
              mountPath: /results
      volumes:
        - name: work
          emptyDir: {{}}
        - name: inputs
          configMap:
            name: {config}
            items:
"
    );
    for (path, s) in &sources {
        if let Source::ConfigMap { key, .. } = s {
            let _ = write!(
                y,
                "              - key: {key}\n                path: {}\n",
                quote(path)
            );
        }
    }
    if let Some(claim) = opts.inputs_pvc {
        let _ = write!(
            y,
            "        - name: large-inputs\n          persistentVolumeClaim:\n            claimName: {claim}\n            readOnly: true\n"
        );
    }
    let _ = write!(
        y,
        "        - name: results\n          persistentVolumeClaim:\n            claimName: {RESULTS_CLAIM}\n"
    );
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        for (raw, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(raw.as_bytes()), enc);
        }
    }

    #[test]
    fn keys_are_valid_and_distinct() {
        let mut taken = BTreeMap::new();
        let a = key_for("scenarios/traces/a b.csv", &taken);
        assert_eq!(a, "scenarios_traces_a_b.csv");
        taken.insert(a, String::new());
        assert_eq!(
            key_for("scenarios/traces/a_b.csv", &taken),
            "scenarios_traces_a_b.csv-2"
        );
    }

    #[test]
    fn blocks_keep_their_bytes() {
        assert_eq!(block("a\nb\n", 2), " |\n  a\n  b\n");
        assert_eq!(block("a", 2), " |-\n  a\n");
        assert_eq!(block("a\n\n", 2), " |+\n  a\n\n");
        assert_eq!(block("  a\n", 2), " |2\n    a\n");
        assert!(block_text(b"a\r\nb").is_none());
        assert!(block_text(&[0xff]).is_none());
        assert_eq!(quote("a\"b\\\u{7}"), "\"a\\\"b\\\\\\u0007\"");
    }

    #[test]
    fn files_lie_below_the_current_folder_or_their_common_one() {
        let v = |s: &str| s.split('/').map(String::from).collect::<Vec<_>>();
        assert_eq!(
            absolute(Path::new("./a/../b/c.toml"), Path::new("/w")),
            v("w/b/c.toml")
        );
        assert_eq!(root(&[v("w/a"), v("w/b/c")], &v("w")), v("w"));
        assert_eq!(root(&[v("t/s/a"), v("t/s/b/c")], &v("t/s/b")), v("t/s"));
    }
}
