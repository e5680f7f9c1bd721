//! `pull`, `push`, `login`, `logout`, `search`: docker's flags and output. Credentials live
//! in docker's `config.json` on the client side and travel to the daemon in
//! `X-Registry-Auth`, as with docker.

mod progress;

use std::io::{self, BufRead, Write};

use berth_registry::{AuthConfig, ConfigFile};
use clap::Args;
use serde_json::{json, Value};

use super::list::render_format;
use super::stream::is_tty;
use crate::client::{Body, Client};
use crate::table::{ellipsis, render};
use crate::Failure;
use progress::Display;

/// `berth pull`.
#[derive(Args, Debug)]
pub struct PullArgs {
    /// Download all tagged images in the repository.
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    /// Set platform if server is multi-platform capable (os/arch[/variant]).
    #[arg(long)]
    pub platform: Option<String>,
    /// Suppress verbose output.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// NAME[:TAG|@DIGEST].
    pub name: String,
}

/// `berth push`.
#[derive(Args, Debug)]
pub struct PushArgs {
    /// Suppress verbose output.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// NAME[:TAG].
    pub name: String,
}

/// `berth login`.
#[derive(Args, Debug)]
pub struct LoginArgs {
    /// Username.
    #[arg(short = 'u', long)]
    pub username: Option<String>,
    /// Password.
    #[arg(short = 'p', long)]
    pub password: Option<String>,
    /// Take the password from stdin.
    #[arg(long)]
    pub password_stdin: bool,
    /// The registry (default: Docker Hub).
    pub server: Option<String>,
}

/// `berth logout`.
#[derive(Args, Debug)]
pub struct LogoutArgs {
    /// The registry (default: Docker Hub).
    pub server: Option<String>,
}

/// `berth search`.
#[derive(Args, Debug)]
pub struct SearchArgs {
    /// Max number of search results.
    #[arg(long)]
    pub limit: Option<u32>,
    /// Filter output based on conditions provided (is-official, is-automated, stars).
    #[arg(short = 'f', long = "filter")]
    pub filters: Vec<String>,
    /// Pretty-print search using a Go template.
    #[arg(long)]
    pub format: Option<String>,
    /// Don't truncate output.
    #[arg(long)]
    pub no_trunc: bool,
    /// TERM.
    pub term: String,
}

/// `(registry domain, rest)` of an image name the way docker splits it.
fn split_domain(name: &str) -> (String, String) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (first.to_owned(), rest.to_owned())
        }
        _ => ("docker.io".to_owned(), name.to_owned()),
    }
}

/// `busybox` → `docker.io/library/busybox:latest` (docker's last line after a pull).
fn canonical(name: &str) -> String {
    let (domain, mut rest) = split_domain(name);
    if domain == "docker.io" && !rest.contains('/') {
        rest = format!("library/{rest}");
    }
    let last = rest.rsplit('/').next().unwrap_or(&rest);
    if !rest.contains('@') && !last.contains(':') {
        rest.push_str(":latest");
    }
    format!("{domain}/{rest}")
}

/// The stored credentials for the registry of `name`, as an `X-Registry-Auth` value.
fn auth_header(name: &str) -> String {
    let (domain, _) = split_domain(name);
    ConfigFile::load_default()
        .ok()
        .and_then(|c| c.get(&domain))
        .unwrap_or_default()
        .to_header()
}

/// `(fromImage, tag)` for `POST /images/create`.
fn pull_query(name: &str, all_tags: bool) -> Result<(String, String), Failure> {
    if let Some((repo, digest)) = name.split_once('@') {
        if all_tags {
            return Err(Failure::daemon("tag can't be used with --all-tags/-a"));
        }
        // A digest that is not `alg:hex` goes whole, for the daemon's reference error.
        if !digest.contains(':') || repo.is_empty() {
            return Ok((name.to_owned(), String::new()));
        }
        return Ok((repo.to_owned(), digest.to_owned()));
    }
    let last = name.rsplit('/').next().unwrap_or(name);
    match last.rsplit_once(':') {
        Some(_) if all_tags => Err(Failure::daemon("tag can't be used with --all-tags/-a")),
        Some(("", _)) => Ok((name.to_owned(), String::new())),
        Some((_, tag)) => Ok((
            name[..name.len() - tag.len() - 1].to_owned(),
            tag.to_owned(),
        )),
        None if all_tags => Ok((name.to_owned(), String::new())),
        None => Ok((name.to_owned(), "latest".to_owned())),
    }
}

/// Pull `name`, showing progress on stdout (or stderr for `run`'s implicit pull).
fn pull_image(
    c: &Client,
    name: &str,
    platform: Option<&str>,
    all_tags: bool,
    quiet: bool,
    stderr: bool,
) -> Result<(), Failure> {
    let (image, tag) = pull_query(name, all_tags)?;
    let mut path = format!(
        "/images/create?fromImage={}&tag={}",
        super::enc(&image),
        super::enc(&tag)
    );
    if let Some(p) = platform {
        path.push_str(&format!("&platform={}", super::enc(p)));
    }
    let auth = auth_header(name);
    let resp = c
        .request_with_headers("POST", &path, Body::Empty, &[("X-Registry-Auth", &auth)])
        .map_err(|e| Failure {
            code: 1,
            message: e.to_string(),
        })?;
    let tty = is_tty(if stderr { 2 } else { 1 });
    Display::new(tty, quiet, stderr).run(resp)
}

/// `berth pull [-a] [--platform P] [-q] NAME[:TAG|@DIGEST]`.
pub fn pull(c: &Client, a: &PullArgs) -> Result<i32, Failure> {
    pull_image(
        c,
        &a.name,
        a.platform.as_deref(),
        a.all_tags,
        a.quiet,
        false,
    )?;
    if a.all_tags {
        let full = canonical(&a.name);
        println!("{}", full.strip_suffix(":latest").unwrap_or(&full));
    } else {
        println!("{}", canonical(&a.name));
    }
    Ok(0)
}

/// The pull `run`/`create` make when the image is missing (docker's messages on stderr).
pub fn pull_for_run(c: &Client, image: &str) -> Result<(), Failure> {
    eprintln!("Unable to find image '{image}' locally");
    pull_image(c, image, None, false, false, true)
}

/// `run/create --pull always`: the registry's current image, progress on stderr.
pub fn pull_before_run(c: &Client, image: &str) -> Result<(), Failure> {
    pull_image(c, image, None, false, false, true)
}

/// `berth push [-q] NAME[:TAG]`.
pub fn push(c: &Client, a: &PushArgs) -> Result<i32, Failure> {
    let (image, tag) = pull_query(&a.name, false)?;
    let path = format!("/images/{image}/push?tag={}", super::enc(&tag));
    let auth = auth_header(&a.name);
    let resp = c
        .request_with_headers("POST", &path, Body::Empty, &[("X-Registry-Auth", &auth)])
        .map_err(|e| Failure {
            code: 1,
            message: e.to_string(),
        })?;
    Display::new(is_tty(1), a.quiet, false).run(resp)?;
    if a.quiet {
        println!("{}", a.name);
    }
    Ok(0)
}

fn read_line(prompt: Option<&str>) -> Result<String, Failure> {
    if let Some(p) = prompt {
        eprint!("{p}");
        io::stderr().flush()?;
    }
    let mut s = String::new();
    io::stdin().lock().read_line(&mut s)?;
    Ok(s.trim_end_matches(['\r', '\n']).to_owned())
}

/// Read a password at a terminal prompt without echoing it.
fn read_secret(prompt: &str) -> Result<String, Failure> {
    if !is_tty(0) {
        return read_line(Some(prompt));
    }
    // SAFETY: tcgetattr/tcsetattr on fd 0 with a termios we own; restored below.
    let saved = unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(0, &mut t) != 0 {
            return read_line(Some(prompt));
        }
        let mut quiet = t;
        quiet.c_lflag &= !libc::ECHO;
        libc::tcsetattr(0, libc::TCSANOW, &quiet);
        t
    };
    let line = read_line(Some(prompt));
    // SAFETY: as above, restoring the saved settings.
    unsafe { libc::tcsetattr(0, libc::TCSANOW, &saved) };
    eprintln!();
    line
}

/// `berth login [-u USER] [-p PASS | --password-stdin] [SERVER]`.
pub fn login(c: &Client, a: &LoginArgs) -> Result<i32, Failure> {
    let server = a.server.clone().unwrap_or_else(|| "docker.io".to_owned());
    let mut cfg = ConfigFile::load_default().map_err(Failure::daemon)?;
    if a.password.is_some() && a.password_stdin {
        return Err(Failure::daemon(
            "--password and --password-stdin are mutually exclusive",
        ));
    }
    if a.password_stdin && a.username.is_none() {
        return Err(Failure::daemon(
            "Must provide --username with --password-stdin",
        ));
    }
    if a.password.is_some() {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
    }
    let stored = cfg.get(&server);
    let username = match &a.username {
        Some(u) => u.clone(),
        None if a.password.is_none() && stored.is_some() && !is_tty(0) => stored
            .as_ref()
            .map(|s| s.username.clone())
            .unwrap_or_default(),
        None => read_line(Some("Username: "))?,
    };
    let password = match (&a.password, a.password_stdin) {
        (Some(p), _) => p.clone(),
        (None, true) => read_line(None)?,
        (None, false) => match &stored {
            Some(s) if a.username.is_none() && !is_tty(0) => s.password.clone(),
            _ => read_secret("Password: ")?,
        },
    };
    if username.is_empty() {
        return Err(Failure::daemon("Error: Non-null Username Required"));
    }
    let auth = AuthConfig {
        username,
        password,
        server_address: server.clone(),
        ..AuthConfig::default()
    };
    let body = serde_json::to_value(&auth).unwrap_or(Value::Null);
    let resp: Value = c
        .json("POST", "/auth", Body::Json(body))
        .map_err(|e| Failure {
            code: 1,
            message: e.to_string(),
        })?;
    cfg.set(&server, &auth);
    cfg.save().map_err(Failure::daemon)?;
    println!(
        "{}",
        resp.get("Status")
            .and_then(Value::as_str)
            .unwrap_or("Login Succeeded")
    );
    Ok(0)
}

/// `berth logout [SERVER]`.
pub fn logout(_c: &Client, a: &LogoutArgs) -> Result<i32, Failure> {
    let server = a.server.clone().unwrap_or_else(|| "docker.io".to_owned());
    let shown = berth_registry::credentials::auth_key(&server);
    let mut cfg = ConfigFile::load_default().map_err(Failure::daemon)?;
    if !cfg.remove(&server) {
        println!("Not logged in to {shown}");
        return Ok(0);
    }
    println!("Removing login credentials for {shown}");
    cfg.save().map_err(Failure::daemon)?;
    Ok(0)
}

/// `berth search [--limit N] [-f K=V] [--format T] [--no-trunc] TERM`.
pub fn search(c: &Client, a: &SearchArgs) -> Result<i32, Failure> {
    let mut path = format!("/images/search?term={}", super::enc(&a.term));
    if let Some(n) = a.limit {
        path.push_str(&format!("&limit={n}"));
    }
    if !a.filters.is_empty() {
        let mut f = serde_json::Map::new();
        for kv in &a.filters {
            let (k, v) = kv.split_once('=').ok_or_else(|| {
                Failure::daemon(format!("bad format of filter (expected name=value): {kv}"))
            })?;
            f.insert(k.to_owned(), json!({ v: true }));
        }
        path.push_str(&format!(
            "&filters={}",
            super::enc(&Value::Object(f).to_string())
        ));
    }
    let auth = auth_header(&a.term);
    let mut resp = c
        .request_with_headers("GET", &path, Body::Empty, &[("X-Registry-Auth", &auth)])
        .map_err(Failure::daemon)?;
    let results: Vec<Value> = serde_json::from_reader(&mut resp)
        .map_err(|e| Failure::daemon(format!("bad search answer: {e}")))?;
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let rows: Vec<Value> = results
        .iter()
        .map(|r| {
            let official = r
                .get("is_official")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let automated = r
                .get("is_automated")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let desc = s(r, "description").replace('\n', " ");
            json!({
                "Name": s(r, "name"),
                "Description": if a.no_trunc { desc } else { ellipsis(&desc, 45) },
                "StarCount": r.get("star_count").and_then(Value::as_u64).unwrap_or(0).to_string(),
                "IsOfficial": if official { "[OK]" } else { "" },
                "IsAutomated": if automated { "[OK]" } else { "" },
            })
        })
        .collect();
    if let Some(f) = &a.format {
        let headers = json!({"Name": "NAME", "Description": "DESCRIPTION", "StarCount": "STARS",
            "IsOfficial": "OFFICIAL", "IsAutomated": "AUTOMATED"});
        render_format(f, &rows, &headers, "*registry.searchContext")?;
        return Ok(0);
    }
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            ["Name", "Description", "StarCount", "IsOfficial"]
                .iter()
                .map(|k| s(r, k))
                .collect()
        })
        .collect();
    print!(
        "{}",
        render(&["NAME", "DESCRIPTION", "STARS", "OFFICIAL"], &body)
    );
    Ok(0)
}
