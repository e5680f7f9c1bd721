//! Dockerfile-style `--change` instructions applied to a config (`commit -c`, `import -c`).
//!
//! Docker accepts CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR and
//! STOPSIGNAL here; the same subset is supported so scripts written for docker work unchanged.

use std::collections::BTreeMap;

use crate::config::ContainerConfig;

/// A rejected change instruction.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChangeError {
    /// Instruction not allowed in `--change`.
    #[error("{0} is not a valid change command")]
    Unsupported(String),
    /// Instruction with missing or malformed arguments.
    #[error("invalid {0} instruction: {1}")]
    Invalid(String, String),
}

/// Apply one instruction such as `CMD ["sh"]` or `ENV A=1 B=2` to `cfg`.
pub fn apply_change(cfg: &mut ContainerConfig, line: &str) -> Result<(), ChangeError> {
    let line = line.trim();
    let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let rest = rest.trim();
    let kw = word.to_ascii_uppercase();
    let invalid = |m: &str| ChangeError::Invalid(kw.clone(), m.to_owned());
    if rest.is_empty() {
        return Err(invalid("missing arguments"));
    }
    match kw.as_str() {
        "CMD" => cfg.cmd = Some(exec_or_shell(rest)),
        "ENTRYPOINT" => cfg.entrypoint = Some(exec_or_shell(rest)),
        "USER" => cfg.user = Some(rest.to_owned()),
        "WORKDIR" => cfg.working_dir = Some(rest.to_owned()),
        "STOPSIGNAL" => cfg.stop_signal = Some(rest.to_owned()),
        "ONBUILD" => cfg
            .on_build
            .get_or_insert_with(Vec::new)
            .push(rest.to_owned()),
        "ENV" => {
            let env = cfg.env.get_or_insert_with(Vec::new);
            for (k, v) in key_values(rest).ok_or_else(|| invalid("expected KEY=value"))? {
                env.retain(|e| e.split_once('=').map_or(e.as_str(), |(ek, _)| ek) != k);
                env.push(format!("{k}={v}"));
            }
        }
        "LABEL" => {
            let labels = cfg.labels.get_or_insert_with(BTreeMap::new);
            for (k, v) in key_values(rest).ok_or_else(|| invalid("expected KEY=value"))? {
                labels.insert(k, v);
            }
        }
        "EXPOSE" => {
            let ports = cfg.exposed_ports.get_or_insert_with(BTreeMap::new);
            for p in rest.split_whitespace() {
                let (num, proto) = p.split_once('/').unwrap_or((p, "tcp"));
                if num.parse::<u16>().is_err() || !matches!(proto, "tcp" | "udp" | "sctp") {
                    return Err(invalid(p));
                }
                ports.insert(format!("{num}/{proto}"), serde_json::json!({}));
            }
        }
        "VOLUME" => {
            let vols = cfg.volumes.get_or_insert_with(BTreeMap::new);
            let list = match serde_json::from_str::<Vec<String>>(rest) {
                Ok(v) => v,
                Err(_) => rest.split_whitespace().map(str::to_owned).collect(),
            };
            for v in list {
                vols.insert(v, serde_json::json!({}));
            }
        }
        _ => return Err(ChangeError::Unsupported(word.to_owned())),
    }
    Ok(())
}

/// JSON array form is exec form; anything else runs through `/bin/sh -c`.
fn exec_or_shell(rest: &str) -> Vec<String> {
    match serde_json::from_str::<Vec<String>>(rest) {
        Ok(v) => v,
        Err(_) => vec!["/bin/sh".to_owned(), "-c".to_owned(), rest.to_owned()],
    }
}

/// `K=V K2="v 2"` pairs, or the legacy `K V with spaces` single pair.
fn key_values(rest: &str) -> Option<Vec<(String, String)>> {
    let first = rest.split_whitespace().next()?;
    if !first.contains('=') {
        let (k, v) = rest.split_once(char::is_whitespace)?;
        return Some(vec![(k.to_owned(), v.trim().to_owned())]);
    }
    let mut out = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let key: String = std::iter::from_fn(|| chars.next_if(|&c| c != '=')).collect();
        chars.next()?; // '='
        let mut val = String::new();
        let mut quote = None;
        while let Some(&c) = chars.peek() {
            match (quote, c) {
                (None, c) if c.is_whitespace() => break,
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (_, '\\') => {
                    chars.next();
                    if let Some(n) = chars.next() {
                        val.push(n);
                    }
                    continue;
                }
                _ => val.push(c),
            }
            chars.next();
        }
        if key.is_empty() || key.contains(char::is_whitespace) {
            return None;
        }
        out.push((key, val));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmd_forms() {
        let mut c = ContainerConfig::default();
        apply_change(&mut c, r#"CMD ["/bin/sh","-c","echo hi"]"#).unwrap();
        assert_eq!(c.cmd.as_ref().unwrap()[2], "echo hi");
        apply_change(&mut c, "cmd echo hi").unwrap();
        assert_eq!(c.cmd.clone().unwrap(), vec!["/bin/sh", "-c", "echo hi"]);
        apply_change(&mut c, r#"ENTRYPOINT ["tini"]"#).unwrap();
        assert_eq!(c.entrypoint.clone().unwrap(), vec!["tini"]);
    }

    #[test]
    fn env_label_expose_volume() {
        let mut c = ContainerConfig {
            env: Some(vec!["A=0".into(), "PATH=/bin".into()]),
            ..Default::default()
        };
        apply_change(&mut c, r#"ENV A=1 B="two words""#).unwrap();
        apply_change(&mut c, "ENV C legacy value").unwrap();
        assert_eq!(
            c.env.clone().unwrap(),
            vec!["PATH=/bin", "A=1", "B=two words", "C=legacy value"]
        );
        apply_change(&mut c, "LABEL x=y").unwrap();
        assert_eq!(c.labels.clone().unwrap()["x"], "y");
        apply_change(&mut c, "EXPOSE 80 53/udp").unwrap();
        let p = c.exposed_ports.clone().unwrap();
        assert!(p.contains_key("80/tcp") && p.contains_key("53/udp"));
        apply_change(&mut c, r#"VOLUME ["/data"]"#).unwrap();
        assert!(c.volumes.clone().unwrap().contains_key("/data"));
    }

    #[test]
    fn rejects() {
        let mut c = ContainerConfig::default();
        assert!(matches!(
            apply_change(&mut c, "RUN rm -rf /"),
            Err(ChangeError::Unsupported(_))
        ));
        assert!(matches!(
            apply_change(&mut c, "CMD"),
            Err(ChangeError::Invalid(..))
        ));
        assert!(matches!(
            apply_change(&mut c, "EXPOSE http"),
            Err(ChangeError::Invalid(..))
        ));
        assert!(matches!(
            apply_change(&mut c, "ENV =x"),
            Err(ChangeError::Invalid(..))
        ));
    }
}
