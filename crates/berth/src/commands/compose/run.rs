//! `exec` (a command in a service's running container) and `run` (a one-off container of a
//! service, its dependencies started first).

use berth_compose::engine::{self, ContainerSpec};
use berth_compose::{labels, Loaded};
use serde_json::{json, Value};

use super::args::{ExecArgs, RunArgs, UpArgs};
use super::project::{self, fail, Target};
use crate::client::{Body, Client};
use crate::commands::containers::{self, Io};
use crate::commands::{enc, stream};
use crate::Failure;

/// A TTY by default when stdin is a terminal, as docker compose does; `-T` turns it off.
fn want_tty(no_tty: bool) -> bool {
    !no_tty && stream::is_tty(0)
}

pub fn exec(c: &Client, t: &Target, a: &ExecArgs) -> Result<i32, Failure> {
    let ctrs = project::select(
        t,
        project::containers(c, &t.name)?,
        std::slice::from_ref(&a.service),
    )?;
    let x = ctrs
        .iter()
        .find(|x| x.number == a.index && !x.oneoff && x.state == "running")
        .ok_or_else(|| fail(format!("service {:?} is not running", a.service)))?;
    let tty = want_tty(a.no_tty) && !a.detach;
    let body = json!({
        "Cmd": a.command, "Env": a.env, "User": a.user.clone().unwrap_or_default(),
        "WorkingDir": a.workdir.clone().unwrap_or_default(),
        "AttachStdin": !a.detach && !a.no_tty, "AttachStdout": !a.detach, "AttachStderr": !a.detach,
        "Tty": tty,
    });
    let io = Io {
        tty,
        stdin: !a.detach && !a.no_tty,
        no_stdout: false,
        no_stderr: false,
    };
    containers::exec(c, &x.id, body, a.detach, io)
}

/// A random hex suffix for a one-off container's name.
fn suffix() -> String {
    let mut b = [0u8; 6];
    // Reading the kernel's random pool cannot block after boot; a failure falls back to
    // the pid and time, which only need to differ between concurrent runs.
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b))
        .is_err()
    {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let mix = t ^ u128::from(std::process::id());
        b.copy_from_slice(&mix.to_le_bytes()[..6]);
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn run(c: &Client, l: &Loaded, a: &RunArgs) -> Result<i32, Failure> {
    let s = l
        .project
        .services
        .get(&a.service)
        .ok_or_else(|| fail(format!("no such service: {}", a.service)))?;
    // The dependencies come up first (and networks, volumes, the image).
    let deps: Vec<String> = berth_compose::plan::dependencies(s).into_iter().collect();
    if !deps.is_empty() && !a.no_deps {
        let up = UpArgs {
            detach: true,
            services: deps,
            ..Default::default()
        };
        super::up::up(c, l, &up)?;
    }
    super::up::ensure_networks(c, l)?;
    super::up::ensure_volumes(c, l)?;
    super::images::ensure(c, l, std::slice::from_ref(&a.service), false)?;
    let mut svc = s.clone();
    if !a.command.is_empty() {
        svc.command = Some(a.command.clone());
    }
    if let Some(ep) = &a.entrypoint {
        svc.entrypoint = Some(ep.split_whitespace().map(str::to_owned).collect());
    }
    if !a.service_ports {
        svc.ports.clear();
    }
    svc.user = a.user.clone().or(svc.user);
    svc.working_dir = a.workdir.clone().or(svc.working_dir);
    for e in &a.env {
        let (k, v) = e
            .split_once('=')
            .map(|(k, v)| (k, Some(v.to_owned())))
            .unwrap_or((e, None));
        svc.environment.insert(k.to_owned(), v);
    }
    for lbl in &a.labels {
        let (k, v) = lbl.split_once('=').unwrap_or((lbl, ""));
        svc.labels.insert(k.to_owned(), v.to_owned());
    }
    let tty = want_tty(a.no_tty) && !a.detach;
    svc.tty = tty;
    svc.stdin_open = !a.detach && !a.no_tty;
    let spec = ContainerSpec {
        service: &a.service,
        number: 1,
        oneoff: true,
        net_container: super::up::net_container(c, l, &a.service)?,
    };
    let mut body = engine::container_body(l, &svc, &spec).map_err(fail)?;
    body["AttachStdout"] = json!(!a.detach);
    body["AttachStderr"] = json!(!a.detach);
    body["AttachStdin"] = json!(svc.stdin_open);
    body["StdinOnce"] = json!(svc.stdin_open);
    body["Labels"][labels::NUMBER] = json!("1");
    let name = a
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-{}-run-{}", l.project.name, a.service, suffix()));
    let v: Value = c.json(
        "POST",
        &format!("/containers/create?name={}", enc(&name)),
        Body::Json(body),
    )?;
    let id = v["Id"].as_str().unwrap_or_default().to_owned();
    let start = || -> Result<(), Failure> {
        c.request("POST", &format!("/containers/{id}/start"), Body::Empty)
            .map(|_| ())
            .map_err(crate::commands::run::start_failure)
    };
    if a.detach {
        start()?;
        println!("{name}");
        return Ok(0);
    }
    let code = containers::attach_session(
        c,
        &id,
        Io {
            tty,
            stdin: svc.stdin_open,
            no_stdout: false,
            no_stderr: false,
        },
        Some(start),
    );
    if a.rm {
        let _ = c.request(
            "DELETE",
            &format!("/containers/{id}?force=1&v=1"),
            Body::Empty,
        );
    }
    code
}
