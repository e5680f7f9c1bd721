//! `--env-file`: docker's format — one `KEY=VALUE` per line, `KEY` alone takes the value from
//! this environment (and is dropped if unset there), `#` comment lines and blank lines ignored.

use crate::Failure;

/// The entries of the env files, in order.
pub fn read(paths: &[String]) -> Result<Vec<String>, Failure> {
    let mut out = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(p)
            .map_err(|e| Failure::daemon(format!("open {p}: {}", e.to_string().to_lowercase())))?;
        out.extend(parse(&text, |k| std::env::var(k).ok())?);
    }
    Ok(out)
}

fn parse(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<Vec<String>, Failure> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let key = line.split('=').next().unwrap_or("");
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(Failure::daemon(format!(
                "invalid environment variable: {line}"
            )));
        }
        if line.contains('=') {
            out.push(line.to_owned());
        } else if let Some(v) = lookup(key) {
            out.push(format!("{key}={v}"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_env_file_format() {
        let text = "# comment\nA=1\n\n  B=two words\nFROM_HOST\nUNSET\nC=\n";
        let got = parse(text, |k| (k == "FROM_HOST").then(|| "h".to_owned())).ok();
        let want: Vec<String> = ["A=1", "B=two words", "FROM_HOST=h", "C="]
            .map(String::from)
            .to_vec();
        assert_eq!(got, Some(want));
        assert!(parse("BAD KEY=1\n", |_| None).is_err());
        assert!(parse("=1\n", |_| None).is_err());
    }
}
