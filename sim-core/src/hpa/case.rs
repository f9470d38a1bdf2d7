pub fn run_case(_s: &str, _f: &str) -> Result<String, String> {
    Ok(String::new())
}
