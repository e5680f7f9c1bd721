//! The stage graph: the Dockerfile split at each FROM, the global ARGs before the first FROM,
//! which stages a target needs (through `FROM <stage>` and `COPY --from=<stage>`), and the
//! order to build them in.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::BuildError;
use crate::parser::{Args, Dockerfile, Instruction};
use crate::shell;

/// One stage: its FROM and the instructions after it.
#[derive(Debug, Clone)]
pub struct Stage {
    /// Position among the stages (what `COPY --from=0` names).
    pub index: usize,
    /// `AS name`, lower-cased.
    pub name: Option<String>,
    /// The base image or stage, variables expanded with the global args.
    pub base: String,
    /// `--platform` of the FROM.
    pub platform: Option<String>,
    /// The FROM instruction.
    pub from: Instruction,
    /// The instructions after it.
    pub body: Vec<Instruction>,
}

/// The stages and the global ARGs.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Global `ARG`s (before the first FROM) with their resolved values.
    pub global_args: BTreeMap<String, String>,
    /// Every stage.
    pub stages: Vec<Stage>,
}

fn perr(file: &str, line: usize, msg: impl Into<String>) -> BuildError {
    BuildError::Parse {
        file: file.to_owned(),
        line,
        message: msg.into(),
    }
}

/// Parses `ARG a=b c` words into (name, default).
pub fn arg_words(
    ins: &Instruction,
    vars: &dyn shell::Vars,
    escape: char,
    file: &str,
) -> Result<Vec<(String, Option<String>)>, BuildError> {
    let Args::Shell(text) = &ins.args else {
        return Err(perr(file, ins.line, "ARG requires at least one argument"));
    };
    let words = shell::words(text, vars, escape).map_err(|e| perr(file, ins.line, e.0))?;
    if words.is_empty() {
        return Err(perr(file, ins.line, "ARG requires at least one argument"));
    }
    Ok(words
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
            None => (w, None),
        })
        .collect())
}

impl Plan {
    /// Splits a parsed Dockerfile into stages; `build_args` override global ARG defaults.
    pub fn new(
        df: &Dockerfile,
        file: &str,
        build_args: &BTreeMap<String, String>,
    ) -> Result<Plan, BuildError> {
        let mut global_args = BTreeMap::new();
        let mut stages: Vec<Stage> = Vec::new();
        for ins in &df.instructions {
            if ins.keyword == "FROM" {
                let Args::Shell(text) = &ins.args else {
                    return Err(perr(file, ins.line, "FROM requires the shell form"));
                };
                let words = shell::words(text, &global_args, df.escape)
                    .map_err(|e| perr(file, ins.line, e.0))?;
                let (base, name) = match words.as_slice() {
                    [b] => (b.clone(), None),
                    [b, as_, n] if as_.eq_ignore_ascii_case("as") => {
                        let n = n.to_ascii_lowercase();
                        if n.parse::<usize>().is_ok()
                            || stages.iter().any(|s| s.name.as_ref() == Some(&n))
                        {
                            return Err(perr(
                                file,
                                ins.line,
                                format!("invalid stage name {n:?}: duplicate or numeric"),
                            ));
                        }
                        (b.clone(), Some(n))
                    }
                    _ => {
                        return Err(perr(
                            file,
                            ins.line,
                            "FROM requires either one or three arguments",
                        ))
                    }
                };
                let platform = ins
                    .flag("platform")
                    .map(|p| shell::expand(p, &global_args, df.escape))
                    .transpose()
                    .map_err(|e| perr(file, ins.line, e.0))?;
                stages.push(Stage {
                    index: stages.len(),
                    name,
                    base,
                    platform,
                    from: ins.clone(),
                    body: Vec::new(),
                });
                continue;
            }
            match stages.last_mut() {
                Some(s) => s.body.push(ins.clone()),
                None if ins.keyword == "ARG" => {
                    for (k, v) in arg_words(ins, &global_args, df.escape, file)? {
                        let v = build_args.get(&k).cloned().or(v).unwrap_or_default();
                        global_args.insert(k, v);
                    }
                }
                None => {
                    return Err(perr(
                        file,
                        ins.line,
                        format!(
                            "{} must come after FROM (only ARG may precede it)",
                            ins.keyword
                        ),
                    ))
                }
            }
        }
        if stages.is_empty() {
            return Err(perr(file, 1, "the Dockerfile has no FROM instruction"));
        }
        Ok(Plan {
            global_args,
            stages,
        })
    }

    /// The stage a `--from=` or `FROM` name refers to, if it is a stage (earlier than `before`).
    pub fn stage_ref(&self, name: &str, before: usize) -> Option<usize> {
        let lower = name.to_ascii_lowercase();
        if let Ok(i) = lower.parse::<usize>() {
            return (i < before).then_some(i);
        }
        self.stages[..before]
            .iter()
            .find(|s| s.name.as_deref() == Some(lower.as_str()))
            .map(|s| s.index)
    }

    /// The index of `--target` (or the last stage).
    pub fn target(&self, target: Option<&str>) -> Result<usize, BuildError> {
        match target {
            None | Some("") => Ok(self.stages.len() - 1),
            Some(t) => self.stage_ref(t, self.stages.len()).ok_or_else(|| {
                BuildError::Context(format!("failed to reach build target {t} in Dockerfile"))
            }),
        }
    }

    /// The stages stage `i` uses directly (`FROM <stage>`, `COPY --from=<stage>`).
    pub fn deps(&self, i: usize) -> Vec<usize> {
        let s = &self.stages[i];
        let mut out = Vec::new();
        if let Some(d) = self.stage_ref(&s.base, i) {
            out.push(d);
        }
        for ins in &s.body {
            if let Some(from) = ins.flag("from") {
                if matches!(ins.keyword.as_str(), "COPY" | "ADD") {
                    let from = shell::expand(from, &self.global_args, '\\')
                        .unwrap_or_else(|_| from.to_owned());
                    if let Some(d) = self.stage_ref(&from, i) {
                        out.push(d);
                    }
                }
            }
        }
        out
    }

    /// The stages `target` depends on (and itself), in build order.
    pub fn needed(&self, target: usize) -> Vec<usize> {
        let mut need = BTreeSet::new();
        let mut todo = vec![target];
        while let Some(i) = todo.pop() {
            if need.insert(i) {
                todo.extend(self.deps(i));
            }
        }
        need.into_iter().collect()
    }

    /// `needed` grouped into waves: every stage of a wave depends only on earlier waves, so
    /// the stages of one wave can be built at the same time.
    pub fn waves(&self, needed: &[usize]) -> Vec<Vec<usize>> {
        let mut placed: BTreeMap<usize, usize> = BTreeMap::new();
        let mut waves: Vec<Vec<usize>> = Vec::new();
        for &i in needed {
            // Dependencies always point to earlier stages, so they are placed already.
            let w = self
                .deps(i)
                .iter()
                .filter_map(|d| placed.get(d))
                .map(|w| w + 1)
                .max()
                .unwrap_or(0);
            placed.insert(i, w);
            if waves.len() <= w {
                waves.resize(w + 1, Vec::new());
            }
            waves[w].push(i);
        }
        waves
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::parse;

    #[test]
    fn graph_skips_unneeded_stages() {
        let df = parse(
            "ARG BASE=busybox\nFROM $BASE AS a\nRUN x\nFROM scratch AS unused\nFROM ${BASE} AS b\nFROM scratch\nCOPY --from=a /x /x\nCOPY --from=2 /y /y\n",
            "Dockerfile",
        )
        .expect("parse");
        let plan = Plan::new(&df, "Dockerfile", &BTreeMap::new()).expect("plan");
        assert_eq!(plan.stages.len(), 4);
        assert_eq!(plan.stages[0].base, "busybox");
        let t = plan.target(None).expect("target");
        assert_eq!(plan.needed(t), vec![0, 2, 3]);
        assert_eq!(plan.waves(&[0, 1, 2, 3]), vec![vec![0, 1, 2], vec![3]]);
        assert_eq!(plan.needed(plan.target(Some("A")).expect("a")), vec![0]);
        assert!(plan.target(Some("nope")).is_err());
    }

    #[test]
    fn instruction_before_from_is_an_error() {
        let df = parse("RUN x\nFROM y\n", "Dockerfile").expect("parse");
        let e = Plan::new(&df, "Dockerfile", &BTreeMap::new()).err();
        assert!(e.is_some_and(|e| e.to_string().contains("line 1")));
    }
}
