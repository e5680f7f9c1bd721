//! Steps that change the filesystem: RUN (through the backend's container) and WORKDIR
//! (creates the directory if it is missing); COPY/ADD live in `copy_step`, sharing the
//! destination and `--chown` resolution kept here.

use crate::backend::{RunMount, RunRequest};
use crate::builder::{Builder, Event, StageRun};
use crate::cache;
use crate::copy::{self, Item, ItemKind, Owner};
use crate::error::BackendError;
use crate::error::BuildError;
use crate::ignore::clean;
use crate::instructions::{default_shell, Scope};
use crate::parser::{heredoc_markers, Args, Instruction};
use crate::stage_fs::StageFs;

pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `RUN <<EOF` alone runs the body; otherwise the shell sees the line and the heredocs.
fn run_script(line: &str, ins: &Instruction) -> String {
    let line = line.trim();
    if ins.heredocs.is_empty() {
        return line.to_owned();
    }
    let only_marker = heredoc_markers(line).len() == 1
        && line.starts_with("<<")
        && !line.contains(char::is_whitespace);
    if only_marker && ins.heredocs.len() == 1 {
        return ins.heredocs[0].content.clone();
    }
    let mut s = format!("{line}\n");
    for h in &ins.heredocs {
        s.push_str(&h.content);
        s.push_str(&h.name);
        s.push('\n');
    }
    s
}

/// `type=cache,target=/x[,id=y]` or `type=tmpfs,target=/x` (`dst`/`destination` too).
fn parse_mount(spec: &str) -> Result<RunMount, String> {
    let mut kind = "bind";
    let (mut target, mut id) = (None, None);
    for part in spec.split(',') {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        match k {
            "type" => kind = v,
            "target" | "dst" | "destination" => target = Some(v.to_owned()),
            "id" => id = Some(v.to_owned()),
            "sharing" | "mode" | "uid" | "gid" | "readonly" | "ro" | "rw" | "size" => {}
            other => return Err(format!("--mount: unsupported option {other:?} in {spec:?}")),
        }
    }
    let target = target
        .filter(|t| t.starts_with('/'))
        .ok_or_else(|| format!("--mount={spec}: an absolute target is required"))?;
    match kind {
        "cache" => Ok(RunMount::Cache {
            id: id.unwrap_or_else(|| target.clone()),
            target,
        }),
        "tmpfs" => Ok(RunMount::Tmpfs { target }),
        other => Err(format!(
            "RUN --mount=type={other} is not supported (cache and tmpfs are)"
        )),
    }
}

pub(crate) fn backend_err(line: usize, e: BackendError) -> BuildError {
    match e {
        BackendError::RunFailed { code, .. } => BuildError::Step {
            line,
            message: e.to_string(),
            exit_code: Some(code),
        },
        e => BuildError::step(line, e.to_string()),
    }
}

impl Builder<'_> {
    pub(crate) fn run_step(
        &mut self,
        st: &mut StageRun,
        ins: &Instruction,
    ) -> Result<(), BuildError> {
        let mounts = ins
            .flags
            .iter()
            .filter(|(n, _)| n == "mount")
            .map(|(_, v)| parse_mount(v.as_deref().unwrap_or("")))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| BuildError::Parse {
                file: self.file.clone(),
                line: ins.line,
                message: e,
            })?;
        let cfg = st.cfg();
        let shell = cfg.shell.clone().unwrap_or_else(default_shell);
        let args = match &ins.args {
            Args::Exec(v) => v.clone(),
            Args::Shell(s) => {
                let mut v = shell;
                v.push(run_script(s, ins));
                v
            }
        };
        if args.iter().all(|a| a.trim().is_empty()) {
            return Err(BuildError::Parse {
                file: self.file.clone(),
                line: ins.line,
                message: "RUN requires at least one argument".into(),
            });
        }
        let mut env = cfg.env.clone().unwrap_or_default();
        let mut arg_env = Vec::new();
        for (k, v) in &st.args {
            if !env.iter().any(|e| e.split('=').next() == Some(k)) {
                arg_env.push(format!("{k}={v}"));
            }
        }
        env.extend(arg_env.iter().cloned());
        let network = ins
            .flag("network")
            .map(str::to_owned)
            .unwrap_or_else(|| self.opts.network.clone());
        let req = RunRequest {
            args,
            env,
            user: cfg.user.clone().unwrap_or_default(),
            workdir: cfg.working_dir.clone().unwrap_or_else(|| "/".into()),
            network,
            mounts,
        };
        let key = cache::key(&[
            &format!("{:?}", req.mounts),
            &st.id,
            "RUN",
            &serde_json::to_string(&req.args).unwrap_or_default(),
            &serde_json::to_string(&req.env).unwrap_or_default(),
            &req.user,
            &req.workdir,
            &req.network,
        ]);
        if self.try_cache(st, &key)? {
            return Ok(());
        }
        let created_by = if arg_env.is_empty() {
            req.args.join(" ")
        } else {
            format!(
                "|{} {} {}",
                arg_env.len(),
                arg_env.join(" "),
                req.args.join(" ")
            )
        };
        let backend = self.backend;
        let on = &mut *self.on;
        let layer = backend
            .run(&st.state, &req, &mut |b| on(Event::Output(b)))
            .map_err(|e| backend_err(ins.line, e))?;
        self.commit(st, key, Some(layer), created_by, false)
    }

    pub(crate) fn workdir(
        &mut self,
        st: &mut StageRun,
        ins: &Instruction,
    ) -> Result<(), BuildError> {
        let vars = st.vars();
        let sc = Scope {
            file: &self.file,
            escape: self.escape,
            vars: &vars,
        };
        let w = sc.word(ins)?;
        let mut cfg = st.cfg();
        let cur = cfg.working_dir.clone().unwrap_or_else(|| "/".into());
        let rel = if w.starts_with('/') {
            clean(&w)
        } else {
            clean(&format!("{cur}/{w}"))
        };
        let abs = format!("/{rel}");
        cfg.working_dir = Some(abs.clone());
        let key = cache::key(&[&st.id, "WORKDIR", &abs]);
        if self.try_cache(st, &key)? {
            return Ok(());
        }
        // Created where the path leads inside the image (a symlink in it is followed there),
        // as docker's MkdirAll on the container's scoped path does.
        let fs = StageFs::open(self.backend, &st.state).map_err(|e| backend_err(ins.line, e))?;
        let found = fs
            .resolve(&abs)
            .map_err(BuildError::io(format!("WORKDIR {abs}")))?;
        drop(fs);
        if found.exists && !found.is_dir {
            return Err(BuildError::step(
                ins.line,
                format!("WORKDIR {abs}: mkdir /{}: not a directory", found.path),
            ));
        }
        let layer = if found.is_dir {
            None
        } else {
            let items = [Item {
                path: found.path,
                kind: ItemKind::Dir,
                mode: 0o755,
            }];
            let t = now_secs();
            Some(
                self.backend
                    .write_layer(&mut |w| copy::write_tar(&items, Owner::default(), t, w))
                    .map_err(|e| backend_err(ins.line, e))?,
            )
        };
        st.state.config.config = Some(cfg);
        let empty = layer.is_none();
        self.commit(
            st,
            key,
            layer,
            format!("/bin/sh -c #(nop) WORKDIR {abs}"),
            empty,
        )
    }

    /// `--chown`: numeric ids as they are, names looked up in the image's `/etc/passwd` and
    /// `/etc/group` (read from a mounted view of the parent state).
    pub(crate) fn resolve_chown(
        &self,
        st: &StageRun,
        chown: Option<&str>,
        line: usize,
    ) -> Result<Option<(u64, u64)>, BuildError> {
        let Some(spec) = chown else {
            return Ok(None);
        };
        if let Ok(ids) = copy::parse_chown(spec) {
            return Ok(Some(ids));
        }
        // Read inside the image's root: a symlinked /etc/passwd is followed there, as docker's
        // lookup does, and never onto the host that mounted it.
        let fs = StageFs::open(self.backend, &st.state).map_err(|e| backend_err(line, e))?;
        let read = |f: &str| {
            fs.read_text(f)
                .map_err(BuildError::io(format!("reading {f} in the image")))
        };
        let (passwd, group) = (read("/etc/passwd")?, read("/etc/group")?);
        copy::parse_chown_db(spec, &passwd, &group)
            .map(Some)
            .map_err(|e| BuildError::step(line, e))
    }

    /// The destination resolved inside the image's root (a symlink in it followed there, as
    /// docker's builder does), and whether it is a directory. Docker's rule: a destination
    /// ending in `/` (or several sources) is a directory; a single file goes into `dest` if
    /// that already is a directory in the image.
    pub(crate) fn resolve_dest(
        &self,
        st: &StageRun,
        dest: &str,
        hint: bool,
        multi: bool,
        line: usize,
    ) -> Result<(String, bool), BuildError> {
        let fs = StageFs::open(self.backend, &st.state).map_err(|e| backend_err(line, e))?;
        let found = fs
            .resolve(dest)
            .map_err(BuildError::io(format!("resolving {dest} in the image")))?;
        let dir = hint || (!multi && found.is_dir);
        Ok((format!("/{}", found.path), dir))
    }
}
