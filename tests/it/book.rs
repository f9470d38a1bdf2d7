//! Every example in the book runs: each TOML block of `book/src/*.md` and each file the book
//! includes or names under `scenarios/`.
//!
//! A TOML block that is not an `{{#include}}` carries an HTML comment on the line before its
//! fence saying what it is:
//! - `<!-- example: scenario -->`: a whole scenario, run as it is (in a folder holding the page's
//!   `file` blocks); `scenario NAME` also names it for the page's quoted outputs
//!   (`tests/it/book_output.rs`);
//! - `<!-- example: file NAME -->`: a file (a catalog, say) the page's later blocks refer to;
//! - `<!-- example: fragment of PATH -->`: keys merged into the scenario at PATH (tables merge,
//!   arrays of tables are appended), then run;
//! - `<!-- example: sweep of PATH -->`: a sweep file whose base scenario is PATH, run;
//! - `<!-- example: hpa-case -->`: a `capsim hpa-eval` CASE file;
//! - `<!-- example: excerpt of PATH -->` (or `excerpt of next`, the page's next `scenario` block):
//!   every line (comments aside) appears in that file, so the excerpt stays true;
//! - `<!-- example: bad-input -->` (or `bad-input NAME`): a broken scenario `capsim validate`
//!   refuses with exit code 2.
//!
//! A block without such a comment fails the test, so a new example cannot go untested.

use crate::common::{capsim_text, root};
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// One TOML block of a page.
struct Block {
    page: String,
    line: usize,
    note: Option<String>,
    text: String,
}

/// Every page of the book, sub-folders included, in path order.
fn pages() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().filter_map(Result::ok) {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "md") {
                out.push(p);
            }
        }
    }
    let mut v = Vec::new();
    walk(&root().join("book/src"), &mut v);
    v.sort();
    v
}

fn blocks(page: &Path) -> Vec<Block> {
    let text = std::fs::read_to_string(page).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let name = page
        .strip_prefix(root().join("book/src"))
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim_start().starts_with("```toml") {
            let note = i
                .checked_sub(1)
                .map(|j| lines[j].trim())
                .and_then(|l| l.strip_prefix("<!-- example:"))
                .and_then(|l| l.strip_suffix("-->"))
                .map(|l| l.trim().to_string());
            let start = i + 1;
            let mut j = start;
            while j < lines.len() && !lines[j].trim_start().starts_with("```") {
                j += 1;
            }
            out.push(Block {
                page: name.clone(),
                line: i + 1,
                note,
                text: lines[start..j].join("\n") + "\n",
            });
            i = j;
        }
        i += 1;
    }
    out
}

/// Deep merge: tables merge key by key (a table with another `kind`, `distribution` or `type`
/// replaces the base's),
/// arrays of tables are appended, other values replaced.
fn merge(base: &mut Table, add: Table) {
    for (k, v) in add {
        match (base.get_mut(&k), v) {
            (Some(Value::Table(b)), Value::Table(a))
                if ["kind", "distribution", "type"]
                    .iter()
                    .all(|d| a.get(*d).is_none_or(|x| b.get(*d) == Some(x))) =>
            {
                merge(b, a)
            }
            (Some(Value::Array(b)), Value::Array(a))
                if a.iter().all(Value::is_table) && b.iter().all(Value::is_table) =>
            {
                b.extend(a)
            }
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

fn path_str(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// Runs `capsim run` (or `sweep` for a sweep file) on `file`; panics with `what` unless it exits
/// with 0 (or 3, a failed `[[check]]`, when `checks_may_fail`).
fn run_file_with(file: &Path, out: &Path, what: &str, checks_may_fail: bool) {
    let text = std::fs::read_to_string(file).unwrap();
    let sweep = text.lines().any(|l| l.trim_start().starts_with("[[axis]]"));
    let cmd = if sweep { "sweep" } else { "run" };
    let (code, stdout, stderr) = capsim_text(&[cmd, &path_str(file), "--out", &path_str(out)]);
    assert!(
        code == 0 || (checks_may_fail && code == 3),
        "{what}: capsim {cmd} exited with {code}\n{stdout}\n{stderr}"
    );
}

fn run_file(file: &Path, out: &Path, what: &str) {
    run_file_with(file, out, what, false)
}

/// A file written beside `base` (so its relative paths resolve) and removed when dropped.
struct Beside(PathBuf);

impl Beside {
    fn new(base: &Path, tag: &str, text: &str) -> Beside {
        let p = base.with_file_name(format!(".book-example-{tag}.toml"));
        std::fs::write(&p, text).unwrap();
        Beside(p)
    }
}

impl Drop for Beside {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A TOML line without its trailing comment and surrounding blanks (no `#` inside strings).
fn bare(line: &str) -> &str {
    line.split(" #").next().unwrap_or("").trim()
}

/// A `scenario` note, with or without the file name the page's output blocks know it by.
fn is_scenario(note: &str) -> bool {
    note == "scenario" || note.starts_with("scenario ")
}

fn check_block(b: &Block, later: &[Block], dir: &Path, n: usize) {
    let what = format!("book/src/{}:{}", b.page, b.line);
    let out = dir.join(format!("out-{n}"));
    if let Some(inc) = b.text.trim().strip_prefix("{{#include ") {
        let rel = inc.trim_end_matches("}}").trim();
        let page_dir = root().join("book/src").join(&b.page);
        let file = page_dir.parent().unwrap().join(rel);
        assert!(file.is_file(), "{what}: includes a missing file {rel}");
        if rel.contains("tests/hpa/") {
            let (code, o, e) = capsim_text(&["hpa-eval", &path_str(&file)]);
            assert_eq!(code, 0, "{what}: hpa-eval failed\n{o}\n{e}");
        } else {
            run_file(&file, &out, &what);
        }
        return;
    }
    let note = b.note.as_deref().unwrap_or_else(|| {
        panic!(
            "{what}: a TOML example without a `<!-- example: ... -->` line before it (see tests/it/book.rs)"
        )
    });
    let parse = |t: &str| -> Table {
        toml::from_str(t).unwrap_or_else(|e| panic!("{what}: not valid TOML: {e}"))
    };
    let tag = format!(
        "{}-{}",
        b.page.trim_end_matches(".md").replace('/', "-"),
        b.line
    );
    if is_scenario(note) {
        let file = dir.join(format!("{tag}.toml"));
        std::fs::write(&file, &b.text).unwrap();
        run_file(&file, &out, &what);
    } else if let Some(name) = note.strip_prefix("file ") {
        parse(&b.text);
        std::fs::write(dir.join(name.trim()), &b.text).unwrap();
    } else if let Some(base) = note.strip_prefix("fragment of ") {
        let base = root().join(base.trim());
        let mut t = parse(&std::fs::read_to_string(&base).unwrap());
        merge(&mut t, parse(&b.text));
        let merged = Beside::new(&base, &tag, &toml::to_string(&t).unwrap());
        run_file(&merged.0, &out, &what);
    } else if let Some(base) = note.strip_prefix("sweep of ") {
        let base = root().join(base.trim());
        let mut t = parse(&b.text);
        t.insert("scenario".into(), Value::String(path_str(&base)));
        let file = dir.join(format!("{tag}.toml"));
        std::fs::write(&file, toml::to_string(&t).unwrap()).unwrap();
        run_file(&file, &out, &what);
    } else if let Some(target) = note.strip_prefix("excerpt of ") {
        let whole = match target.trim() {
            "next" => later
                .iter()
                .find(|x| x.note.as_deref().is_some_and(is_scenario))
                .unwrap_or_else(|| panic!("{what}: no `scenario` block after this excerpt"))
                .text
                .clone(),
            path => std::fs::read_to_string(root().join(path))
                .unwrap_or_else(|e| panic!("{what}: {path}: {e}")),
        };
        let lines: Vec<&str> = whole.lines().map(bare).collect();
        for l in b
            .text
            .lines()
            .map(bare)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            assert!(
                lines.contains(&l),
                "{what}: the excerpt's line `{l}` is not in {target}"
            );
        }
    } else if note == "bad-input" || note.starts_with("bad-input ") {
        let file = dir.join(format!("{tag}.toml"));
        std::fs::write(&file, &b.text).unwrap();
        let (code, o, e) = capsim_text(&["validate", &path_str(&file)]);
        assert_eq!(
            code, 2,
            "{what}: expected capsim validate to refuse it\n{o}\n{e}"
        );
    } else if note == "hpa-case" {
        let file = dir.join(format!("{tag}.toml"));
        std::fs::write(&file, &b.text).unwrap();
        let (code, o, e) = capsim_text(&["hpa-eval", &path_str(&file)]);
        assert_eq!(code, 0, "{what}: hpa-eval failed\n{o}\n{e}");
    } else {
        panic!("{what}: unknown example kind `{note}`");
    }
}

/// Every TOML block of every page runs (see the module comment for how blocks are marked).
#[test]
fn every_toml_example_in_the_book_runs() {
    let mut n = 0;
    for page in pages() {
        let dir = tempfile::tempdir().unwrap();
        let all = blocks(&page);
        for (i, b) in all.iter().enumerate() {
            check_block(b, &all[i + 1..], dir.path(), n);
            n += 1;
        }
    }
    assert!(n >= 30, "found only {n} TOML examples: is the book there?");
}

/// The benchmark scenarios the performance page describes (`benches/scenarios/`) stay valid:
/// `capsim validate` accepts each (running them is the benchmark script's work, minutes long).
#[test]
fn every_benchmark_scenario_validates() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("benches/scenarios"))
        .expect("benches/scenarios/")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    let perf = std::fs::read_to_string(root().join("book/src/performance.md")).unwrap();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy();
        assert!(perf.contains(&*name), "performance.md describes {name}");
        let (code, stdout, stderr) = capsim_text(&["validate", &path_str(f)]);
        assert_eq!(code, 0, "{name}: {stdout}{stderr}");
    }
}

/// Every scenario or sweep file the book names under `scenarios/` exists and runs (a sweep whose
/// `[[check]]`s fail on some points, as a cookbook sweep may, still counts as running).
#[test]
fn every_scenario_the_book_names_runs() {
    let mut named = std::collections::BTreeSet::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        let mut rest = text.as_str();
        while let Some(i) = rest.find("scenarios/") {
            let tail = &rest[i..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || "/._-".contains(c)))
                .unwrap_or(tail.len());
            let p = &tail[..end];
            if p.ends_with(".toml") {
                named.insert(p.to_string());
            }
            rest = &tail[end..];
        }
    }
    assert!(named.contains("scenarios/quickstart.toml"));
    let dir = tempfile::tempdir().unwrap();
    for (k, p) in named.iter().enumerate() {
        let file = root().join(p);
        assert!(file.is_file(), "the book names {p}, which does not exist");
        run_file_with(&file, &dir.path().join(k.to_string()), p, true);
    }
}

#[test]
fn merge_appends_arrays_of_tables_and_merges_tables() {
    let mut a: Table = toml::from_str("x = 1\n[s]\na = 1\n[[p]]\nn = 1\n").unwrap();
    merge(
        &mut a,
        toml::from_str("x = 2\n[s]\nb = 2\n[[p]]\nn = 2\n").unwrap(),
    );
    assert_eq!(a["x"].as_integer(), Some(2));
    assert_eq!(a["s"].as_table().unwrap().len(), 2);
    assert_eq!(a["p"].as_array().unwrap().len(), 2);
}
