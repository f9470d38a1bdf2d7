//! The book cannot quote output the program no longer prints: every block that quotes program
//! output is produced by the program, and a change fails a test naming the page and line.
//!
//! A quoted block carries an HTML comment on the line before its fence saying which command
//! printed it, then optional filters, separated by `|`:
//!
//! ```text
//! <!-- output: capsim run scenarios/quickstart.toml --out results/quickstart | starting TTFT SLO -->
//! ```
//!
//! The command runs in an empty folder that holds `scenarios/`, `tests/` and `sim-core/` (links
//! to the repository's) and the files the page itself defines (`<!-- example: file NAME -->`,
//! `scenario NAME` and `bad-input NAME` blocks), so relative paths in it and in its output read as
//! they do from the repository root. What it printed (stdout, then stderr) passes through the
//! filters:
//! - `stdout`, `stderr`: one stream only;
//! - `file PATH`: the file the command wrote at PATH instead;
//! - `lines A-B` (or `A-`): lines A to B, counting from 1;
//! - `starting P Q ...`: the lines that start with one of the words, each with the indented
//!   lines right after it;
//! - `grep TEXT`: the lines that contain TEXT (the rest of the filter, spaces included);
//! - `json KEY ...`: the top-level `"KEY": ...` members of pretty-printed JSON, each to its closing line;
//! - `exit N`: the command must exit with N (otherwise with 0);
//! - `prompt`: the block starts with the command, as `$ capsim ...`;
//! - `with PATH` (or `with PATH as NAME`): before the command runs, the repository's file at
//!   PATH is copied into its folder under its own name (or as NAME, which may hold folders): a
//!   broken scenario kept under `tests/book/quoted/`, say.
//!
//! A marker followed by no fence opens a region of plain Markdown (a table printed with
//! `--format markdown`, then a blank line) that ends at a line `<!-- /output -->`.
//!
//! The block must equal the result. After an intended change, regenerate every quoted block with
//! `UPDATE_BOOK=1 cargo test --release --test it book_output`.

use crate::common::root;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// One `<!-- output: ... -->` block of a page.
struct Quote {
    /// The 1-based line of the opening fence (or of the region's first line).
    fence: usize,
    /// The command, `capsim` first.
    args: Vec<String>,
    filters: Vec<Vec<String>>,
    /// The 0-based range of the block's lines in the page.
    body: std::ops::Range<usize>,
    /// A fenced block, not a Markdown region (which ends with a blank line before its end mark).
    fenced: bool,
}

/// The files a page defines, by name, and its quoted blocks.
struct Page {
    files: BTreeMap<String, String>,
    quotes: Vec<Quote>,
}

/// The word after `<!-- KIND:` on `line`, if it is such a comment.
fn comment<'a>(line: &'a str, kind: &str) -> Option<&'a str> {
    line.trim()
        .strip_prefix("<!--")?
        .trim_start()
        .strip_prefix(kind)?
        .strip_prefix(':')?
        .strip_suffix("-->")
        .map(str::trim)
}

/// The end of an output region that is not a fenced block (a Markdown table, say).
const END: &str = "<!-- /output -->";

/// The index of the line that closes the fenced block opening at `open`.
fn fence_end(lines: &[&str], open: usize) -> usize {
    let mut end = open + 1;
    while end < lines.len() && !lines[end].trim_start().starts_with("```") {
        end += 1;
    }
    end
}

/// Reads a page's defined files and quoted blocks; `Err` names a malformed marker.
fn parse(name: &str, text: &str) -> Result<Page, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut page = Page {
        files: BTreeMap::new(),
        quotes: Vec::new(),
    };
    let mut i = 0;
    while i < lines.len() {
        if let Some(spec) = comment(lines[i], "output") {
            let at = i + 1;
            let mut parts = spec.split('|').map(|p| {
                p.split_whitespace()
                    .map(str::to_string)
                    .collect::<Vec<String>>()
            });
            let args = parts.next().unwrap_or_default();
            if args.first().map(String::as_str) != Some("capsim") {
                return Err(format!(
                    "book/src/{name}:{at}: an output marker must start with `capsim`, found `{spec}`"
                ));
            }
            if args.iter().any(|a| a.contains(['"', '\''])) {
                return Err(format!(
                    "book/src/{name}:{at}: quotes in an output marker's command are not supported"
                ));
            }
            let fenced = lines
                .get(at)
                .is_some_and(|l| l.trim_start().starts_with("```"));
            let (body, next) = if fenced {
                let end = fence_end(&lines, at);
                (at + 1..end, end + 1)
            } else {
                let end = (at..lines.len())
                    .find(|&j| lines[j].trim() == END)
                    .ok_or_else(|| {
                        format!(
                            "book/src/{name}:{at}: an output marker is followed by neither a \
                             fenced block nor, later, `{END}`"
                        )
                    })?;
                (at..end, end + 1)
            };
            page.quotes.push(Quote {
                fence: at + 1,
                args,
                filters: parts.filter(|p| !p.is_empty()).collect(),
                body,
                fenced,
            });
            i = next;
        } else if lines[i].trim_start().starts_with("```") {
            let end = fence_end(&lines, i);
            let before = i.checked_sub(1).map(|j| lines[j]).unwrap_or("");
            if let Some(note) = comment(before, "example") {
                let mut words = note.split_whitespace();
                if let (Some("file" | "scenario" | "bad-input"), Some(file)) =
                    (words.next(), words.next())
                {
                    let body = lines[i + 1..end].join("\n") + "\n";
                    page.files.insert(file.to_string(), body);
                }
            }
            i = end + 1;
        } else {
            i += 1;
        }
    }
    Ok(page)
}

/// (exit code, stdout, stderr, the folder it ran in) of one command, cached by command and the
/// page's files, so a block quoted on several pages runs once.
type Ran = (i32, String, String, PathBuf);

fn run(args: &[String], files: &BTreeMap<String, String>) -> std::sync::Arc<Ran> {
    static CACHE: OnceLock<Mutex<BTreeMap<String, std::sync::Arc<Ran>>>> = OnceLock::new();
    let key = format!("{args:?}{files:?}");
    let cache = CACHE.get_or_init(Default::default);
    if let Some(r) = cache.lock().unwrap().get(&key) {
        return r.clone();
    }
    // Kept for the life of the test process (`file` filters read from it), under the target
    // folder's scratch space, which the first run of each test process empties.
    static SCRATCH: OnceLock<PathBuf> = OnceLock::new();
    let scratch = SCRATCH.get_or_init(|| {
        let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("book-output");
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    });
    let dir = tempfile::tempdir_in(scratch).unwrap().keep();
    for link in ["scenarios", "tests", "sim-core"] {
        std::os::unix::fs::symlink(root().join(link), dir.join(link)).unwrap();
    }
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let o = Command::new(env!("CARGO_BIN_EXE_capsim"))
        .args(&args[1..])
        .current_dir(&dir)
        .output()
        .expect("capsim runs");
    let ran = std::sync::Arc::new((
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        dir,
    ));
    cache.lock().unwrap().insert(key, ran.clone());
    ran
}

/// What the block should hold: the command's output through the filters.
fn expected(q: &Quote, files: &BTreeMap<String, String>) -> Result<String, String> {
    let mut files = files.clone();
    for f in q.filters.iter().filter(|f| f[0] == "with") {
        let path = f.get(1).ok_or("`with PATH`")?;
        let text = std::fs::read_to_string(root().join(path))
            .map_err(|e| format!("`with {path}`: {e}"))?;
        let name = match (f.get(2).map(String::as_str), f.get(3)) {
            (Some("as"), Some(name)) => name.clone(),
            _ => Path::new(path)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned(),
        };
        files.insert(name, text);
    }
    let (code, stdout, stderr, dir) = &*run(&q.args, &files);
    let mut want_exit = 0;
    let mut text = format!("{stdout}{stderr}");
    for f in &q.filters {
        let arg = |k: usize| f.get(k).map(String::as_str).unwrap_or("");
        match f[0].as_str() {
            "with" | "prompt" => {}
            "stdout" => text = stdout.clone(),
            "stderr" => text = stderr.clone(),
            "exit" => want_exit = arg(1).parse().map_err(|_| "`exit N`".to_string())?,
            "file" => {
                text = std::fs::read_to_string(dir.join(arg(1)))
                    .map_err(|e| format!("`file {}`: {e}", arg(1)))?
            }
            _ => text = filter(f, &text)?,
        }
    }
    if *code != want_exit {
        return Err(format!(
            "`{}` exited with {code}, expected {want_exit} (`| exit N` to expect another)\n{stdout}{stderr}",
            q.args.join(" ")
        ));
    }
    if text.trim().is_empty() {
        return Err(format!("`{}`: the filters left nothing", q.args.join(" ")));
    }
    if q.filters.iter().any(|f| f[0] == "prompt") {
        text = format!("$ {}\n{text}", q.args.join(" "));
    }
    Ok(text)
}

/// Applies one text filter (`lines`, `starting` or `json`, with its words) to `text`.
fn filter(f: &[String], text: &str) -> Result<String, String> {
    let arg = |k: usize| f.get(k).map(String::as_str).unwrap_or("");
    Ok(match f[0].as_str() {
        "lines" => {
            let bad = || "`lines A-B`".to_string();
            let (a, b) = arg(1).split_once('-').ok_or_else(bad)?;
            let a: usize = a.parse().map_err(|_| bad())?;
            let b: usize = if b.is_empty() {
                usize::MAX
            } else {
                b.parse().map_err(|_| bad())?
            };
            keep(text, |n, _| n + 1 >= a && n < b)
        }
        "grep" => {
            let want = f[1..].join(" ");
            keep(text, |_, l| l.contains(&want))
        }
        "starting" => {
            let mut kept = false;
            keep(text, |_, l| {
                if l.starts_with(' ') {
                    return kept;
                }
                kept = f[1..].iter().any(|p| l.starts_with(p.as_str()));
                kept
            })
        }
        "json" => {
            // The member's indentation while inside one, and whether its first line is all.
            let mut inside: Option<usize> = None;
            keep(text, |_, l| {
                let lead = l.len() - l.trim_start().len();
                match inside {
                    Some(i) => {
                        if lead == i {
                            inside = None;
                        }
                        true
                    }
                    None => {
                        // Top-level members only (two spaces in): a service's entry in
                        // `services` has members of the same names.
                        let member = lead == 2
                            && f[1..]
                                .iter()
                                .any(|k| l.trim_start().starts_with(&format!("\"{k}\":")));
                        if member && l.trim_end().ends_with(['{', '[']) {
                            inside = Some(lead);
                        }
                        member
                    }
                }
            })
        }
        other => return Err(format!("unknown filter `{other}`")),
    })
}

/// The lines of `text` for which `f(index, line)` holds, each ending in a newline.
fn keep(text: &str, mut f: impl FnMut(usize, &str) -> bool) -> String {
    text.lines()
        .enumerate()
        .filter(|(n, l)| f(*n, l))
        .map(|(_, l)| format!("{l}\n"))
        .collect()
}

/// Checks (or, with `update`, rewrites) every quoted block of the page at `path`, shown as
/// `book/src/{name}`; returns one message per block that differs from what the program prints.
fn check_page(path: &Path, name: &str, update: bool) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let page = match parse(name, &text) {
        Ok(p) => p,
        Err(e) => return vec![e],
    };
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut problems = Vec::new();
    // Back to front, so a rewritten block does not move the ones before it.
    for q in page.quotes.iter().rev() {
        let want = match expected(q, &page.files) {
            // A blank line ends a Markdown table before the region's end mark.
            Ok(w) if !q.fenced => w + "\n",
            Ok(w) => w,
            Err(e) => {
                problems.push(format!("book/src/{name}:{}: {e}", q.fence));
                continue;
            }
        };
        let have = lines[q.body.clone()].join("\n") + "\n";
        if have == want {
            continue;
        }
        if update {
            lines.splice(q.body.clone(), want.lines().map(str::to_string));
        } else {
            problems.push(format!(
                "book/src/{name}:{}: the block quotes output that `{}` no longer prints \
                 (regenerate with UPDATE_BOOK=1 cargo test --release --test it book_output)\n\
                 --- the book\n{have}--- the program\n{want}",
                q.fence,
                q.args.join(" ")
            ));
        }
    }
    if update {
        let new = lines.join("\n") + "\n";
        if new != text {
            std::fs::write(path, new).unwrap();
        }
    }
    problems.reverse();
    problems
}

/// The book's pages, sub-folders included, in path order, with their names under `book/src`.
fn pages() -> Vec<(PathBuf, String)> {
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
    let src = root().join("book/src");
    let mut v = Vec::new();
    walk(&src, &mut v);
    v.sort();
    v.into_iter()
        .map(|p| {
            let name = p.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
            (p, name)
        })
        .collect()
}

/// Every block of the book that quotes program output is what the program prints today.
#[test]
fn every_quoted_output_in_the_book_is_current() {
    let update = std::env::var_os("UPDATE_BOOK").is_some();
    let mut problems = Vec::new();
    let mut quoted = 0;
    for (path, name) in pages() {
        let text = std::fs::read_to_string(&path).unwrap();
        if let Ok(page) = parse(&name, &text) {
            quoted += page.quotes.len();
            // A file of `tests/book/quoted/` named as a page's block is a copy for other pages.
            for (file, body) in &page.files {
                let copy = root().join("tests/book/quoted").join(file);
                if copy.is_file() && std::fs::read_to_string(&copy).unwrap() != *body {
                    problems.push(format!(
                        "book/src/{name}: its `{file}` block differs from tests/book/quoted/{file}, \
                         a copy other pages run"
                    ));
                }
            }
        }
        problems.extend(check_page(&path, &name, update));
    }
    assert!(quoted >= 20, "found only {quoted} quoted outputs");
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// A block that starts like program output (a run's header, `ok:`, `error:`, `warning`, a
/// comparison table, a run's `requests` line) carries an output marker, so a new quote cannot go
/// unchecked.
#[test]
fn every_block_that_looks_like_output_is_marked() {
    let looks = |first: &str| {
        [
            "capsim 0.1.0 ·",
            "ok: ",
            "policy  ",
            "requests     ",
            "error: ",
            "warning",
        ]
        .iter()
        .any(|p| first.starts_with(p))
    };
    let mut unmarked = Vec::new();
    for (path, name) in pages() {
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let mut i = 0;
        while i < lines.len() {
            if lines[i].trim_start().starts_with("```") {
                let first = lines.get(i + 1).copied().unwrap_or("");
                // `<!-- quoted: … -->`: a quote another test checks (it names the test).
                let marked = i > 0
                    && (comment(lines[i - 1], "output").is_some()
                        || comment(lines[i - 1], "quoted").is_some());
                if looks(first) && !marked {
                    unmarked.push(format!("book/src/{name}:{}", i + 1));
                }
                while i + 1 < lines.len() && !lines[i + 1].trim_start().starts_with("```") {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
        }
    }
    assert!(
        unmarked.is_empty(),
        "blocks that quote program output without an `<!-- output: ... -->` marker (see \
         tests/it/book_output.rs):\n{}",
        unmarked.join("\n")
    );
}

/// The drift check at work: a page quoting a scenario's output passes; after the scenario
/// changes (a higher rate), the check fails and names the page and the block's line.
#[test]
fn a_changed_scenario_fails_naming_the_page_that_quotes_it() {
    let scenario = std::fs::read_to_string(root().join("scenarios/quickstart.toml"))
        .unwrap()
        .replace("horizon = \"10m\"", "horizon = \"70s\"");
    assert!(scenario.contains("horizon = \"70s\""));
    let page = |s: &str| {
        format!(
            "# A page\n\n<!-- example: scenario tiny.toml -->\n```toml\n{s}```\n\nIt prints\n\n\
             <!-- output: capsim run tiny.toml | starting requests -->\n```text\nstale\n```\n"
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.md");
    std::fs::write(&path, page(&scenario)).unwrap();
    // The block's fence is on the line after the marker.
    let fence = page(&scenario)
        .lines()
        .position(|l| l.starts_with("<!-- output:"))
        .unwrap()
        + 2;
    let at = format!("book/src/tiny.md:{fence}: ");
    let stale = check_page(&path, "tiny.md", false);
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert!(stale[0].starts_with(&at), "{}", stale[0]);
    assert!(check_page(&path, "tiny.md", true).is_empty());
    assert!(check_page(&path, "tiny.md", false).is_empty());
    let quoted = std::fs::read_to_string(&path).unwrap();
    assert!(
        quoted.contains("\n```text\nrequests     arrived "),
        "{quoted}"
    );

    // The scenario changes; the book's block does not follow.
    let changed = scenario.replace("rate = 1000.0", "rate = 900.0");
    assert_ne!(changed, scenario);
    let text = quoted.replace(&scenario, &changed);
    std::fs::write(&path, text).unwrap();
    let problems = check_page(&path, "tiny.md", false);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with(&format!(
            "{at}the block quotes output that `capsim run tiny.toml` no longer prints"
        )),
        "{}",
        problems[0]
    );
}

#[test]
fn filters_pick_lines_prefixes_and_json_members() {
    let f = |spec: &str, t: &str| {
        let words: Vec<String> = spec.split_whitespace().map(str::to_string).collect();
        filter(&words, t).unwrap()
    };
    let t = "a 1\n  a2\nb 2\nc 3\n";
    assert_eq!(f("lines 3-3", t), "b 2\n");
    assert_eq!(f("lines 3-", t), "b 2\nc 3\n");
    assert_eq!(f("starting a c", t), "a 1\n  a2\nc 3\n");
    let json = "{\n  \"x\": 1,\n  \"t\": {\n    \"y\": 2\n  },\n  \"z\": 3\n}\n";
    assert_eq!(f("json t", json), "  \"t\": {\n    \"y\": 2\n  },\n");
    assert_eq!(f("json z", json), "  \"z\": 3\n");
    assert_eq!(f("json x z", json), "  \"x\": 1,\n  \"z\": 3\n");
    assert_eq!(f("grep 2", t), "  a2\nb 2\n");
    assert!(filter(&["sort".to_string()], t).is_err());
}
