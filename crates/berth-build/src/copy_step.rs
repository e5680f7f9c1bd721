//! COPY and ADD. One line is parsed once ([`CopyLine`]); its sources then come either from an
//! earlier stage's filesystem (`--from`) or from the build context (with heredocs and, for ADD,
//! URLs and local archives). The two paths differ in what the cache key hashes and where items
//! are read from, so each has its own function; both end in one written layer.

use std::collections::BTreeMap;

use crate::builder::{Builder, StageRun};
use crate::cache;
use crate::context::Context;
use crate::copy::{self, Item, ItemKind, Owner};
use crate::error::BuildError;
use crate::fetch;
use crate::ignore::clean;
use crate::instructions::Scope;
use crate::parser::{Args, Instruction};
use crate::shell;
use crate::stage_fs::StageFs;
use crate::steps::{backend_err, now_secs};

/// A COPY/ADD line with its words expanded and its flags parsed: everything both source
/// kinds need before they read a single file.
struct CopyLine {
    kw: String,
    add: bool,
    srcs: Vec<String>,
    /// Absolute (joined to WORKDIR), not yet resolved inside the image.
    dest: String,
    /// The destination was written as a directory (`/` at the end, `.`).
    hint_dir: bool,
    /// `--chown` as written: names are looked up only after a cache miss, since that
    /// mounts the image.
    chown: Option<String>,
    owner: Owner,
    from: Option<String>,
    /// `--chown`/`--chmod` as they enter the cache key.
    owner_key: String,
    created_by: String,
    line: usize,
    vars: BTreeMap<String, String>,
}

impl CopyLine {
    fn missing(&self, s: &str) -> BuildError {
        BuildError::step(
            self.line,
            format!("{} failed: file not found in build context or excluded by .dockerignore: stat {s}: file does not exist", self.kw),
        )
    }

    fn multi_err(&self) -> BuildError {
        BuildError::step(
            self.line,
            format!("When using {} with more than one source file, the destination must be a directory and end with a /", self.kw),
        )
    }
}

/// Context-side sources of one line, and the hash of their content that goes into the cache
/// key (so an edited file, heredoc or download misses the cache).
#[derive(Default)]
struct ContextSources {
    matches: Vec<String>,
    heredocs: Vec<(String, String)>,
    urls: Vec<(String, Vec<u8>)>,
    hash: String,
}

impl ContextSources {
    fn count(&self) -> usize {
        self.matches.len() + self.heredocs.len() + self.urls.len()
    }
}

impl Builder<'_> {
    pub(crate) fn copy_step(
        &mut self,
        st: &mut StageRun,
        ins: &Instruction,
    ) -> Result<(), BuildError> {
        let c = self.copy_line(st, ins)?;
        match c.from.clone() {
            Some(from) => self.copy_from_stage(st, c, &from),
            None => self.copy_from_context(st, ins, c),
        }
    }

    fn copy_line(&self, st: &StageRun, ins: &Instruction) -> Result<CopyLine, BuildError> {
        let kw = ins.keyword.clone();
        let vars = st.vars();
        let sc = Scope {
            file: &self.file,
            escape: self.escape,
            vars: &vars,
        };
        let words = match &ins.args {
            Args::Exec(v) => v
                .iter()
                .map(|w| shell::expand(w, &vars, self.escape).map_err(|e| sc.err(ins, e.0)))
                .collect::<Result<Vec<_>, _>>()?,
            Args::Shell(_) => sc.words(ins)?,
        };
        let Some((dest_raw, srcs)) = words.split_last().filter(|(_, s)| !s.is_empty()) else {
            return Err(sc.err(ins, format!("{kw} requires at least two arguments")));
        };
        let flag = |n: &str| -> Result<Option<String>, BuildError> {
            ins.flag(n)
                .map(|v| shell::expand(v, &vars, self.escape).map_err(|e| sc.err(ins, e.0)))
                .transpose()
        };
        let chown = flag("chown")?;
        let owner = Owner {
            chown: None,
            chmod: flag("chmod")?
                .map(|c| copy::parse_chmod(&c))
                .transpose()
                .map_err(|e| sc.err(ins, e))?,
        };
        let from = flag("from")?;
        let workdir = st.cfg().working_dir.unwrap_or_else(|| "/".into());
        let dest = if dest_raw.starts_with('/') {
            dest_raw.clone()
        } else {
            format!("{workdir}/{dest_raw}")
        };
        Ok(CopyLine {
            add: kw == "ADD",
            hint_dir: dest_raw.ends_with('/') || dest_raw == "." || dest_raw.ends_with("/."),
            owner_key: format!("{:?}", (&chown, owner.chmod)),
            created_by: format!("/bin/sh -c #(nop) {kw} {} in {dest}", srcs.join(" ")),
            srcs: srcs.to_vec(),
            kw,
            dest,
            chown,
            owner,
            from,
            line: ins.line,
            vars,
        })
    }

    /// `COPY --from=<stage or image>`: the sources are matched in that filesystem, mounted
    /// read-only, and the cache key names the source state rather than hashing its files.
    fn copy_from_stage(
        &mut self,
        st: &mut StageRun,
        mut c: CopyLine,
        from: &str,
    ) -> Result<(), BuildError> {
        let line = c.line;
        let (src_id, src_state) = self.source_state(from, self.cur, line)?;
        let key = cache::key(&[
            &st.id,
            &c.kw,
            "from",
            &src_id,
            &c.srcs.join("\n"),
            &c.dest,
            &c.owner_key,
        ]);
        if self.try_cache(st, &key)? {
            return Ok(());
        }
        c.owner.chown = self.resolve_chown(st, c.chown.as_deref(), line)?;
        let src_fs = StageFs::open(self.backend, &src_state).map_err(|e| backend_err(line, e))?;
        let mut matches = Vec::new();
        for s in &c.srcs {
            let m = src_fs
                .matches(s)
                .map_err(BuildError::io(format!("reading {s}")))?;
            if m.is_empty() {
                return Err(c.missing(s));
            }
            matches.extend(m);
        }
        let (dest, dest_dir) =
            self.resolve_dest(st, &c.dest, c.hint_dir, matches.len() > 1, line)?;
        if matches.len() > 1 && !dest_dir {
            return Err(c.multi_err());
        }
        let mut items = Vec::new();
        for m in &matches {
            let read_err = || BuildError::io(format!("reading {m} from stage {from}"));
            let src_dir = src_fs.resolve(m).map_err(read_err())?.is_dir;
            src_fs
                .items(m, &dest, dest_dir || src_dir, &mut items)
                .map_err(read_err())?;
        }
        let t = now_secs();
        let layer = self
            .backend
            .write_layer(&mut |w| copy::write_tar(&items, c.owner, t, w))
            .map_err(|e| backend_err(line, e))?;
        // The items borrow the mounted source: release both before the commit records the layer.
        drop(items);
        drop(src_fs);
        self.commit(st, key, Some(layer), c.created_by, false)
    }

    /// COPY/ADD from the build context, heredocs and (ADD) URLs.
    fn copy_from_context(
        &mut self,
        st: &mut StageRun,
        ins: &Instruction,
        mut c: CopyLine,
    ) -> Result<(), BuildError> {
        let (ctx, line) = (self.ctx, c.line);
        let srcs = self.context_sources(ins, &c)?;
        let key = cache::key(&[&st.id, &c.kw, &c.dest, &c.owner_key, &srcs.hash]);
        if self.try_cache(st, &key)? {
            return Ok(());
        }
        c.owner.chown = self.resolve_chown(st, c.chown.as_deref(), line)?;
        let count = srcs.count();
        // One directory source is copied into the destination, as if it ended in `/`.
        let single_dir = count == 1 && srcs.matches.first().is_some_and(|m| ctx.is_dir(m));
        let (dest, dest_dir) = self.resolve_dest(st, &c.dest, c.hint_dir, count > 1, line)?;
        let dest_dir = single_dir || dest_dir;
        if count > 1 && !dest_dir {
            return Err(c.multi_err());
        }
        let mut items: Vec<Item<'_>> = Vec::new();
        for m in &srcs.matches {
            context_match_items(ctx, c.add, m, &dest, dest_dir, &mut items)?;
        }
        for (name, body) in srcs.heredocs {
            let data = copy::Data::Owned(body.into_bytes());
            items.push(named_item(&dest, dest_dir, &name, data, 0o644));
        }
        for (name, data) in srcs.urls {
            items.push(named_item(
                &dest,
                dest_dir,
                &name,
                copy::Data::Owned(data),
                0o600,
            ));
        }
        let t = now_secs();
        let layer = self
            .backend
            .write_layer(&mut |w| copy::write_tar(&items, c.owner, t, w))
            .map_err(|e| backend_err(line, e))?;
        self.commit(st, key, Some(layer), c.created_by, false)
    }

    /// Sorts each source into a heredoc (`<<NAME` naming one of the line's heredocs), a URL
    /// (ADD only, downloaded now so its content enters the key) or context paths.
    fn context_sources(
        &self,
        ins: &Instruction,
        c: &CopyLine,
    ) -> Result<ContextSources, BuildError> {
        let mut out = ContextSources::default();
        for s in &c.srcs {
            if let Some(name) = s.strip_prefix("<<") {
                let name = name.trim_start_matches('-').trim_matches(['"', '\'']);
                if let Some(h) = ins.heredocs.iter().find(|h| h.name == name) {
                    let body = if h.expand {
                        shell::expand(&h.content, &c.vars, self.escape)
                            .unwrap_or_else(|_| h.content.clone())
                    } else {
                        h.content.clone()
                    };
                    out.hash
                        .push_str(&format!("heredoc {name} {}\n", cache::key(&[&body])));
                    out.heredocs.push((name.to_owned(), body));
                    continue;
                }
            }
            if c.add && (s.starts_with("http://") || s.starts_with("https://")) {
                let data = fetch::fetch(s)
                    .map_err(|e| BuildError::step(c.line, format!("ADD failed: {e}")))?;
                let digest = cache::key(&[&String::from_utf8_lossy(&data)]);
                out.hash.push_str(&format!("url {s} {digest}\n"));
                out.urls.push((fetch::file_name(s), data));
                continue;
            }
            let m = copy::match_context(self.ctx, s);
            if m.is_empty() {
                return Err(c.missing(s));
            }
            for p in m {
                hash_context_path(self.ctx, &p, &mut out.hash)?;
                out.matches.push(p);
            }
        }
        Ok(out)
    }
}

/// Adds a matched context path and the content hash of it (a file) or of everything under it
/// (a directory) to the cache key material.
fn hash_context_path(ctx: &Context, p: &str, hash: &mut String) -> Result<(), BuildError> {
    hash.push_str(&format!("{p}\n"));
    match ctx.entries.get(p) {
        Some(e) if !ctx.is_dir(p) => hash.push_str(e.hash()?),
        _ => {
            for (rel, e) in ctx.under(p) {
                hash.push_str(rel);
                hash.push(' ');
                hash.push_str(e.hash()?);
                hash.push('\n');
            }
        }
    }
    Ok(())
}

/// Items for one matched context path. ADD unpacks a local tar archive into the destination
/// (docker's rule); anything that is not a recognised archive is copied as it is.
fn context_match_items<'c>(
    ctx: &'c Context,
    add: bool,
    m: &str,
    dest: &str,
    dest_dir: bool,
    items: &mut Vec<Item<'c>>,
) -> Result<(), BuildError> {
    if add && !ctx.is_dir(m) {
        if let Some(data) = ctx.file(m) {
            if let Some(extracted) = crate::add_archive::items(data, dest, &ctx.limits)
                .map_err(BuildError::io(format!("extracting {m}")))?
            {
                items.extend(extracted);
                return Ok(());
            }
        }
    }
    copy::context_items(ctx, m, dest, dest_dir || ctx.is_dir(m), items);
    Ok(())
}

/// A file the line itself supplies (heredoc body, download): it goes into the destination
/// directory under `name`, or becomes the destination file.
fn named_item<'c>(
    dest: &str,
    dest_dir: bool,
    name: &str,
    data: copy::Data<'c>,
    mode: u32,
) -> Item<'c> {
    let path = if dest_dir {
        format!("{dest}/{name}")
    } else {
        dest.to_owned()
    };
    Item {
        path: clean(&path),
        kind: ItemKind::File(data),
        mode,
    }
}
