//! The subcommands and the file handling they share.

pub mod batch;
pub mod calibrate;
pub mod catalog;
pub mod check;
pub mod compare;
pub mod error;
pub mod hpa_eval;
pub mod load;
pub mod manifests;
pub mod output;
pub mod pack;
pub mod report;
pub mod run;
pub mod set;
pub mod sweep;
pub mod tenants;
pub mod validate;

/// Largest text input read whole (scenario, manifest, sweep, case and CSV files), bytes.
pub const MAX_TEXT_BYTES: u64 = 256 << 20;

/// Reads a text input whole: invalid UTF-8 is an error giving its byte position (and line and
/// column), and a file past [`MAX_TEXT_BYTES`] is refused before it is read.
pub fn read_text(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(std::io::Error::other("it is a folder, not a file"));
    }
    if meta.len() > MAX_TEXT_BYTES {
        return Err(std::io::Error::other(format!(
            "{} bytes: larger than {MAX_TEXT_BYTES} bytes, the most read whole",
            meta.len()
        )));
    }
    let mut bytes = Vec::new();
    file.take(MAX_TEXT_BYTES + 1).read_to_end(&mut bytes)?;
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let before = &e.as_bytes()[..at];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not UTF-8: an invalid byte at byte {at} (line {line}, column {column})"),
        )
    })
}
