//! Instructions that only change the image config: ENV, LABEL, EXPOSE, VOLUME, USER, CMD,
//! ENTRYPOINT, SHELL, STOPSIGNAL, HEALTHCHECK, ONBUILD, MAINTAINER (and WORKDIR's config part).
//! Each returns docker's `created_by` text for the history entry.

use std::collections::BTreeMap;

use berth_image::config::{ContainerConfig, ImageConfig};
use serde_json::{json, Value};

use crate::error::BuildError;
use crate::parser::{Args, Instruction};
use crate::shell::{self, Vars};

/// The default shell of RUN/CMD/ENTRYPOINT shell forms.
pub fn default_shell() -> Vec<String> {
    vec!["/bin/sh".into(), "-c".into()]
}

/// What an instruction sees: the parse context and the variables in scope.
pub struct Scope<'a> {
    /// Dockerfile name (errors).
    pub file: &'a str,
    /// Escape character.
    pub escape: char,
    /// Build args and ENV in scope.
    pub vars: &'a dyn Vars,
}

impl Scope<'_> {
    /// A parse error at `ins`.
    pub fn err(&self, ins: &Instruction, msg: impl Into<String>) -> BuildError {
        BuildError::Parse {
            file: self.file.to_owned(),
            line: ins.line,
            message: msg.into(),
        }
    }

    fn text<'b>(&self, ins: &'b Instruction) -> Result<&'b str, BuildError> {
        match &ins.args {
            Args::Shell(t) if !t.trim().is_empty() => Ok(t),
            Args::Exec(_) | Args::Shell(_) => Err(self.err(
                ins,
                format!("{} requires at least one argument", ins.keyword),
            )),
        }
    }

    /// Expanded words of a shell-form argument list.
    pub fn words(&self, ins: &Instruction) -> Result<Vec<String>, BuildError> {
        shell::words(self.text(ins)?, self.vars, self.escape).map_err(|e| self.err(ins, e.0))
    }

    /// Expanded single word.
    pub fn word(&self, ins: &Instruction) -> Result<String, BuildError> {
        shell::expand(self.text(ins)?.trim(), self.vars, self.escape)
            .map_err(|e| self.err(ins, e.0))
    }

    /// `k=v k2="v 2"` pairs, or the legacy `k v with spaces` form.
    pub fn pairs(&self, ins: &Instruction) -> Result<Vec<(String, String)>, BuildError> {
        let text = self.text(ins)?.trim();
        let first = text.split_whitespace().next().unwrap_or("");
        if !first.contains('=') {
            let (k, v) = text
                .split_once(char::is_whitespace)
                .ok_or_else(|| self.err(ins, format!("{} must have two arguments", ins.keyword)))?;
            let v =
                shell::expand(v.trim(), self.vars, self.escape).map_err(|e| self.err(ins, e.0))?;
            return Ok(vec![(k.to_owned(), v)]);
        }
        self.words(ins)?
            .into_iter()
            .map(|w| match w.split_once('=') {
                Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
                _ => Err(self.err(
                    ins,
                    format!(
                        "{}: syntax error - can't find = in {w:?}. Must be of the form: name=value",
                        ins.keyword
                    ),
                )),
            })
            .collect()
    }
}

/// Exec form as is, shell form wrapped in the shell.
fn command(ins: &Instruction, shell: &[String]) -> Vec<String> {
    match &ins.args {
        Args::Exec(v) => v.clone(),
        Args::Shell(s) => {
            let mut v = shell.to_vec();
            v.push(s.trim().to_owned());
            v
        }
    }
}

/// Sets `KEY=value` in an env list (replacing an existing KEY).
pub fn set_env(env: &mut Vec<String>, k: &str, v: &str) {
    env.retain(|e| e.split('=').next() != Some(k));
    env.push(format!("{k}={v}"));
}

/// The env as a map (for expansion).
pub fn env_map(cfg: &ContainerConfig) -> BTreeMap<String, String> {
    cfg.env
        .iter()
        .flatten()
        .filter_map(|e| e.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn duration_ns(s: &str) -> Option<i64> {
    let (num, mult) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1_000_000.0)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1e9)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60e9)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3600e9)
    } else {
        return None;
    };
    num.parse::<f64>().ok().map(|n| (n * mult) as i64)
}

fn healthcheck(ins: &Instruction, sc: &Scope<'_>) -> Result<Value, BuildError> {
    let text = match &ins.args {
        Args::Shell(t) => t.trim().to_owned(),
        Args::Exec(_) => String::new(),
    };
    if text.eq_ignore_ascii_case("none") {
        return Ok(json!({"Test": ["NONE"]}));
    }
    let (word, rest) = text.split_once(char::is_whitespace).unwrap_or((&text, ""));
    if !word.eq_ignore_ascii_case("cmd") {
        return Err(sc.err(ins, "HEALTHCHECK requires NONE or CMD <command>"));
    }
    let rest = rest.trim();
    let test = match serde_json::from_str::<Vec<String>>(rest) {
        Ok(v) => std::iter::once("CMD".to_owned())
            .chain(v)
            .collect::<Vec<_>>(),
        Err(_) if !rest.is_empty() => vec!["CMD-SHELL".to_owned(), rest.to_owned()],
        Err(_) => return Err(sc.err(ins, "HEALTHCHECK CMD requires a command")),
    };
    let mut hc = json!({"Test": test});
    for (name, key) in [
        ("interval", "Interval"),
        ("timeout", "Timeout"),
        ("start-period", "StartPeriod"),
        ("start-interval", "StartInterval"),
    ] {
        if let Some(v) = ins.flag(name) {
            let ns = duration_ns(v).ok_or_else(|| sc.err(ins, format!("invalid --{name}: {v}")))?;
            hc[key] = json!(ns);
        }
    }
    if let Some(r) = ins.flag("retries") {
        let n: i64 = r
            .parse()
            .map_err(|_| sc.err(ins, format!("invalid --retries: {r}")))?;
        hc["Retries"] = json!(n);
    }
    Ok(hc)
}

/// Applies a config-only instruction to `img`; returns the history `created_by`.
/// `entrypoint_reset_cmd` tells ENTRYPOINT to drop a CMD inherited from the base image.
pub fn apply(
    img: &mut ImageConfig,
    ins: &Instruction,
    sc: &Scope<'_>,
    cmd_from_base: bool,
) -> Result<String, BuildError> {
    let shell_now = img
        .config
        .as_ref()
        .and_then(|c| c.shell.clone())
        .unwrap_or_else(default_shell);
    let cfg = img.config.get_or_insert_with(ContainerConfig::default);
    let shown = match &ins.args {
        Args::Exec(v) => serde_json::to_string(v).unwrap_or_default(),
        Args::Shell(s) => s.trim().to_owned(),
    };
    match ins.keyword.as_str() {
        "ENV" => {
            let pairs = sc.pairs(ins)?;
            let env = cfg.env.get_or_insert_with(Vec::new);
            let mut shown = Vec::new();
            for (k, v) in pairs {
                set_env(env, &k, &v);
                shown.push(format!("{k}={v}"));
            }
            return Ok(format!("ENV {}", shown.join(" ")));
        }
        "LABEL" => {
            let labels = cfg.labels.get_or_insert_with(BTreeMap::new);
            let mut shown = Vec::new();
            for (k, v) in sc.pairs(ins)? {
                shown.push(format!("{k}={v}"));
                labels.insert(k, v);
            }
            return Ok(format!("LABEL {}", shown.join(" ")));
        }
        "MAINTAINER" => img.author = Some(sc.word(ins)?),
        "EXPOSE" => {
            let ports = cfg.exposed_ports.get_or_insert_with(BTreeMap::new);
            for p in sc.words(ins)? {
                let (num, proto) = p.split_once('/').unwrap_or((&p, "tcp"));
                let valid = num
                    .split('-')
                    .all(|n| n.parse::<u16>().is_ok_and(|n| n > 0));
                if !valid || !matches!(proto.to_ascii_lowercase().as_str(), "tcp" | "udp" | "sctp")
                {
                    return Err(sc.err(ins, format!("invalid containerPort: {p}")));
                }
                ports.insert(format!("{num}/{}", proto.to_ascii_lowercase()), json!({}));
            }
        }
        "VOLUME" => {
            let vols = match &ins.args {
                Args::Exec(v) => v.clone(),
                Args::Shell(_) => sc.words(ins)?,
            };
            if vols.iter().any(|v| v.trim().is_empty()) || vols.is_empty() {
                return Err(sc.err(ins, "VOLUME specified can not be an empty string"));
            }
            let map = cfg.volumes.get_or_insert_with(BTreeMap::new);
            for v in vols {
                map.insert(v, json!({}));
            }
        }
        "USER" => cfg.user = Some(sc.word(ins)?),
        "STOPSIGNAL" => cfg.stop_signal = Some(sc.word(ins)?),
        "CMD" => cfg.cmd = Some(command(ins, &shell_now)),
        "ENTRYPOINT" => {
            let ep = command(ins, &shell_now);
            cfg.entrypoint = match &ins.args {
                Args::Exec(v) if v.is_empty() => None,
                _ => Some(ep),
            };
            if cmd_from_base {
                cfg.cmd = None;
            }
        }
        "SHELL" => match &ins.args {
            Args::Exec(v) if !v.is_empty() => cfg.shell = Some(v.clone()),
            _ => return Err(sc.err(ins, "SHELL requires the arguments to be in JSON form")),
        },
        "HEALTHCHECK" => cfg.healthcheck = Some(healthcheck(ins, sc)?),
        "ONBUILD" => {
            let text = sc.text(ins)?.trim().to_owned();
            let kw = text
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            if matches!(kw.as_str(), "ONBUILD" | "FROM" | "MAINTAINER") {
                return Err(sc.err(ins, format!("{kw} isn't allowed as an ONBUILD trigger")));
            }
            cfg.on_build.get_or_insert_with(Vec::new).push(text);
        }
        other => return Err(sc.err(ins, format!("{other} is not a config instruction"))),
    }
    Ok(format!("{} {shown}", ins.keyword))
}
