//! `berth build` end to end: multi-stage images that run, config instructions visible in `run`
//! and `image inspect`, the content-keyed cache (no-change rebuild → same id; one-file edit →
//! rebuild from its COPY), `.dockerignore`, errors that leave nothing behind, and the real
//! docker CLI's classic builder against berthd.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{docker_cli, stderr, stdout, Daemon};

/// A build context directory, removed on drop.
struct Ctx(PathBuf);

impl Ctx {
    fn new(d: &Daemon, files: &[(&str, &str)]) -> Ctx {
        let dir = d
            .dir
            .join(format!("ctx-{}", files.len() * 31 + files[0].1.len()));
        let _ = fs::remove_dir_all(&dir);
        for (p, text) in files {
            let f = dir.join(p);
            fs::create_dir_all(f.parent().unwrap()).unwrap();
            fs::write(f, text).unwrap();
        }
        Ctx(dir)
    }
    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn build(d: &Daemon, ctx: &Ctx, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["build"];
    args.extend_from_slice(extra);
    args.push(ctx.path());
    d.berth(&args)
}

fn build_ok(d: &Daemon, ctx: &Ctx, extra: &[&str]) -> String {
    let o = build(d, ctx, extra);
    assert!(
        o.status.success(),
        "build failed: {}\n{}\n{}\ndaemon log:\n{}",
        o.status,
        stdout(&o),
        stderr(&o),
        d.log()
    );
    stdout(&o)
}

/// The image id a build printed (`Successfully built <short>` is checked against it).
fn built_id(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("Successfully built "))
        .expect("no 'Successfully built' line")
        .trim()
        .to_owned()
}

/// The output of a container run from `args` (detached, waited for, read from its log: the
/// attach path of `run` is not what these tests are about).
fn run_out(d: &Daemon, args: &[&str]) -> String {
    let mut run = vec!["run", "-d"];
    run.extend_from_slice(args);
    let id = d.ok(&run).trim().to_owned();
    d.ok(&["wait", &id]);
    let out = d.ok(&["logs", &id]);
    d.ok(&["rm", &id]);
    out
}

fn no_leftovers(d: &Daemon) {
    let build_dir = d.dir.join("exec/build");
    let left: Vec<_> = fs::read_dir(&build_dir)
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "build dirs left: {left:?}");
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let root = d.dir.to_str().unwrap();
    assert!(
        !mounts.lines().any(|l| l.contains(root)),
        "mounts left under {root}"
    );
    assert_eq!(d.ok(&["ps", "-a", "-q"]).trim(), "", "containers left");
}

#[test]
fn two_stage_build_from_scratch_runs() {
    let d = Daemon::start();
    d.import_busybox();
    let ctx = Ctx::new(
        &d,
        &[(
            "Dockerfile",
            "FROM busybox AS tools\nRUN mkdir /out && cp /bin/busybox /out/busybox && printf '#!/bin/busybox sh\\necho built-in-stage-one \"$@\"\\n' > /out/hello && chmod 755 /out/hello\n\nFROM scratch\nCOPY --from=tools /out/busybox /bin/busybox\nCOPY --from=0 /out/hello /hello\nENTRYPOINT [\"/hello\"]\nCMD [\"from-scratch\"]\n",
        )],
    );
    let out = build_ok(&d, &ctx, &["-t", "twostage:1"]);
    assert!(out.contains("Step 1/7 : FROM busybox AS tools"), "{out}");
    assert!(
        out.contains("Step 4/7 : COPY --from=tools /out/busybox"),
        "{out}"
    );
    assert!(out.contains("Successfully tagged twostage:1"), "{out}");
    let run = run_out(&d, &["twostage:1"]);
    assert_eq!(run.trim(), "built-in-stage-one from-scratch");
    // Two layers: only what the second stage copied, nothing of busybox's rootfs.
    let layers = d.ok(&[
        "image",
        "inspect",
        "-f",
        "{{len .RootFS.Layers}}",
        "twostage:1",
    ]);
    assert_eq!(layers.trim(), "2");
    no_leftovers(&d);
}

#[test]
fn config_instructions_are_visible_in_run_and_inspect() {
    let d = Daemon::start();
    d.import_busybox();
    let ctx = Ctx::new(
        &d,
        &[
            (
                "Dockerfile",
                "# syntax=docker/dockerfile:1\nFROM busybox\nARG GREETING=hello\nENV APP_GREETING=${GREETING}-world \\\n    PLAIN=\"a b\"\nWORKDIR /app\nCOPY run.sh ./\nRUN chmod 755 run.sh && chown 1000 /app\nUSER alice\nLABEL org.test.kind=\"build test\" version=1\nEXPOSE 8080 53/udp\nSTOPSIGNAL SIGUSR1\nENTRYPOINT [\"/app/run.sh\"]\nCMD [\"arg1\"]\n",
            ),
            ("run.sh", "#!/bin/sh\necho \"$APP_GREETING|$PLAIN|$(pwd)|$(id -u)|$*\"\n"),
        ],
    );
    let id = built_id(&build_ok(&d, &ctx, &["-t", "cfg", "--label", "extra=yes"]));
    assert_eq!(
        run_out(&d, &["cfg"]).trim(),
        "hello-world|a b|/app|1000|arg1"
    );
    assert_eq!(
        run_out(&d, &["cfg", "x", "y"]).trim(),
        "hello-world|a b|/app|1000|x y"
    );
    let f = "{{.Config.WorkingDir}} {{.Config.User}} {{json .Config.ExposedPorts}} {{json .Config.Labels}} {{json .Config.Entrypoint}} {{json .Config.Cmd}} {{.Config.StopSignal}}";
    let inspect = d.ok(&["image", "inspect", "-f", f, "cfg"]);
    assert_eq!(
        inspect.trim(),
        r#"/app alice {"53/udp":{},"8080/tcp":{}} {"extra":"yes","org.test.kind":"build test","version":"1"} ["/app/run.sh"] ["arg1"] SIGUSR1"#
    );
    let env = d.ok(&["image", "inspect", "-f", "{{json .Config.Env}}", "cfg"]);
    assert!(
        env.contains("APP_GREETING=hello-world") && !env.contains("GREETING=hello\""),
        "{env}"
    );
    assert!(d
        .ok(&["image", "inspect", "-f", "{{.Id}}", "cfg"])
        .contains(&id));
    // A build arg changes what depends on it.
    build_ok(&d, &ctx, &["-t", "cfg2", "--build-arg", "GREETING=hey"]);
    assert!(run_out(&d, &["cfg2"]).starts_with("hey-world|"));
    no_leftovers(&d);
}

#[test]
fn cache_reuses_unchanged_steps_and_rebuilds_from_the_edited_copy() {
    let d = Daemon::start();
    d.import_busybox();
    let ctx = Ctx::new(
        &d,
        &[
            (
                "Dockerfile",
                "FROM busybox\nRUN echo one > /one\nCOPY a.txt /a.txt\nRUN cat /a.txt > /copy-of-a\nCOPY b.txt /b.txt\nRUN cat /b.txt /copy-of-a > /both\nCMD [\"cat\", \"/both\"]\n",
            ),
            ("a.txt", "A1\n"),
            ("b.txt", "B1\n"),
        ],
    );
    let iid = ctx.0.with_file_name("iid");
    let first = build_ok(
        &d,
        &ctx,
        &["-t", "cached", "--iidfile", iid.to_str().unwrap()],
    );
    assert_eq!(first.matches("Using cache").count(), 0, "{first}");
    let id1 = fs::read_to_string(&iid).unwrap();
    assert!(id1.starts_with("sha256:"));

    let again = build_ok(
        &d,
        &ctx,
        &["-t", "cached", "--iidfile", iid.to_str().unwrap()],
    );
    assert_eq!(again.matches("Using cache").count(), 6, "{again}");
    assert_eq!(
        fs::read_to_string(&iid).unwrap(),
        id1,
        "no-change rebuild must give the same id"
    );

    // mtime-only change: still cached (keys are content hashes).
    let b = ctx.0.join("b.txt");
    fs::write(&b, "B1\n").unwrap();
    let touched = build_ok(&d, &ctx, &[]);
    assert_eq!(touched.matches("Using cache").count(), 6, "{touched}");

    fs::write(&b, "B2\n").unwrap();
    let edited = build_ok(&d, &ctx, &["-t", "cached"]);
    assert_eq!(edited.matches("Using cache").count(), 3, "{edited}");
    let after_copy = edited.split("Step 5/7 : COPY b.txt").nth(1).unwrap();
    assert!(!after_copy.contains("Using cache"), "{edited}");
    assert_eq!(run_out(&d, &["cached"]), "B2\nA1\n");
    assert_ne!(built_id(&edited), id1.trim_start_matches("sha256:")[..12]);

    let forced = build_ok(&d, &ctx, &["--no-cache"]);
    assert_eq!(forced.matches("Using cache").count(), 0, "{forced}");
    no_leftovers(&d);
}

#[test]
fn dockerignore_excludes_with_exceptions() {
    let d = Daemon::start();
    d.import_busybox();
    let ctx = Ctx::new(
        &d,
        &[
            (
                "Dockerfile",
                "FROM busybox\nCOPY . /ctx/\nCMD [\"find\", \"/ctx\", \"-type\", \"f\"]\n",
            ),
            (
                ".dockerignore",
                "# comment\n*.secret\nlogs\n!logs/keep.txt\n**/*.tmp\n",
            ),
            ("app.txt", "x"),
            ("key.secret", "x"),
            ("logs/a.log", "x"),
            ("logs/keep.txt", "x"),
            ("src/deep/x.tmp", "x"),
            ("src/deep/y.rs", "x"),
        ],
    );
    build_ok(&d, &ctx, &["-t", "ign"]);
    let mut files: Vec<String> = d
        .ok(&["run", "--rm", "ign"])
        .lines()
        .map(str::to_owned)
        .collect();
    files.sort();
    assert_eq!(
        files,
        vec![
            "/ctx/.dockerignore",
            "/ctx/Dockerfile",
            "/ctx/app.txt",
            "/ctx/logs/keep.txt",
            "/ctx/src/deep/y.rs"
        ]
    );
}

#[test]
fn heredocs_add_archive_and_shell_forms() {
    let d = Daemon::start();
    d.import_busybox();
    let ctx = Ctx::new(
        &d,
        &[(
            "Dockerfile",
            "FROM busybox\nARG WHO=heredoc\nRUN <<EOF\nset -e\necho \"$WHO line\" > /h1\necho second >> /h1\nEOF\nCOPY <<EOF /etc/motd\nhello ${WHO}\nEOF\nSHELL [\"/bin/sh\", \"-c\"]\nCMD cat /h1 /etc/motd\n",
        )],
    );
    build_ok(&d, &ctx, &["-t", "hd"]);
    assert_eq!(
        run_out(&d, &["hd"]),
        "heredoc line\nsecond\nhello heredoc\n"
    );
    // ADD extracts a local tar archive from the context.
    let arch = Ctx::new(
        &d,
        &[(
            "Dockerfile",
            "FROM busybox\nADD pkg.tar /opt/\nCMD [\"cat\", \"/opt/pkg/f\"]\n",
        )],
    );
    let mut t = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(7);
    h.set_mode(0o644);
    t.append_data(&mut h, "pkg/f", &b"packed\n"[..]).unwrap();
    fs::write(arch.0.join("pkg.tar"), t.into_inner().unwrap()).unwrap();
    build_ok(&d, &arch, &["-t", "added"]);
    assert_eq!(run_out(&d, &["added"]), "packed\n");
}

fn image_count(d: &Daemon) -> usize {
    d.ok(&["images", "-q"]).lines().count()
}

#[test]
fn malformed_dockerfile_names_the_line_and_makes_no_image() {
    let d = Daemon::start();
    d.import_busybox();
    let before = image_count(&d);
    let ctx = Ctx::new(
        &d,
        &[("Dockerfile", "FROM busybox\n\nBOGUS something\nRUN true\n")],
    );
    let o = build(&d, &ctx, &["-t", "bad"]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("line 3") && err.contains("unknown instruction: BOGUS"),
        "{err}"
    );
    assert_eq!(image_count(&d), before);
    let missing = Ctx::new(&d, &[("Dockerfile", "FROM busybox\nCOPY nope.txt /\n")]);
    let o = build(&d, &missing, &["-t", "bad"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("nope.txt"), "{}", stderr(&o));
    assert_eq!(image_count(&d), before);
}

#[test]
fn failing_run_shows_code_and_output_and_leaves_nothing() {
    let d = Daemon::start();
    d.import_busybox();
    let ctx = Ctx::new(
        &d,
        &[("Dockerfile", "FROM busybox\nRUN echo before > /x\nRUN echo visible-output && echo to-stderr >&2 && exit 7\n")],
    );
    let o = build(&d, &ctx, &["-t", "fails"]);
    assert_eq!(o.status.code(), Some(1));
    let (out, err) = (stdout(&o), stderr(&o));
    assert!(
        out.contains("visible-output") && out.contains("to-stderr"),
        "{out}"
    );
    assert!(err.contains("returned a non-zero code: 7"), "{err}");
    let tags = d.ok(&["images", "--format", "{{.Repository}}"]);
    assert!(!tags.contains("fails"), "{tags}");
    no_leftovers(&d);
}

#[test]
fn docker_cli_classic_builder_builds_through_berthd() {
    let Some(docker) = docker_cli() else {
        common::skip("docker CLI not installed");
        return;
    };
    let d = Daemon::start();
    d.import_busybox();
    let ctx = Ctx::new(
        &d,
        &[
            (
                "Dockerfile",
                "FROM busybox\nCOPY msg /msg\nRUN cat /msg > /copy\nCMD [\"cat\", \"/copy\"]\n",
            ),
            ("msg", "via docker cli\n"),
        ],
    );
    let run = |args: &[&str]| {
        let mut cmd = std::process::Command::new(&docker);
        cmd.env("DOCKER_BUILDKIT", "0")
            .env("DOCKER_CONFIG", d.dir.join("docker-config"))
            .arg("-H")
            .arg(format!("unix://{}", d.sock.display()))
            .args(args);
        cmd.output().unwrap()
    };
    let o = run(&["build", "-t", "viadocker", ctx.path()]);
    assert!(
        o.status.success(),
        "{}\n{}\n{}",
        stdout(&o),
        stderr(&o),
        d.log()
    );
    let out = stdout(&o);
    assert!(out.contains("Step 2/4 : COPY msg /msg"), "{out}");
    assert!(
        out.contains("Successfully tagged viadocker:latest"),
        "{out}"
    );
    assert_eq!(run_out(&d, &["viadocker"]), "via docker cli\n");
    let again = run(&["build", "-q", "-t", "viadocker", ctx.path()]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(stdout(&again).trim().starts_with("sha256:"));
    // A Dockerfile outside the context (the CLI appends it to the tar under a random name).
    let outside = d.dir.join("outside.Dockerfile");
    fs::write(
        &outside,
        "FROM busybox\nCOPY msg /again\nCMD [\"cat\", \"/again\"]\n",
    )
    .unwrap();
    let o = run(&[
        "build",
        "-f",
        outside.to_str().unwrap(),
        "-t",
        "outside",
        ctx.path(),
    ]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    assert_eq!(run_out(&d, &["outside"]), "via docker cli\n");
    let bad = Ctx::new(&d, &[("Dockerfile", "FROM busybox\nRUN exit 3\n")]);
    let o = run(&["build", bad.path()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("non-zero code: 3"), "{}", stderr(&o));
    let _ = Path::new("");
}

#[test]
fn run_mount_cache_persists_and_stays_out_of_the_image() {
    let d = Daemon::start();
    d.import_busybox();
    let ctx = Ctx::new(
        &d,
        &[(
            "Dockerfile",
            "FROM busybox\nRUN --mount=type=cache,target=/var/cache/app --mount=type=tmpfs,target=/scratch echo run >> /var/cache/app/log && wc -l < /var/cache/app/log > /seen && touch /scratch/x\nCMD [\"sh\", \"-c\", \"cat /seen; ls -A /var/cache/app; ls -A /scratch; echo end\"]\n",
        )],
    );
    build_ok(&d, &ctx, &["-t", "cm"]);
    assert_eq!(
        run_out(&d, &["cm"]).split_whitespace().collect::<Vec<_>>(),
        ["1", "end"]
    );
    build_ok(&d, &ctx, &["-t", "cm", "--no-cache"]);
    // The cache directory kept the first build's line; neither mount's content is in the image.
    assert_eq!(
        run_out(&d, &["cm"]).split_whitespace().collect::<Vec<_>>(),
        ["2", "end"]
    );
    let bad = Ctx::new(
        &d,
        &[(
            "Dockerfile",
            "FROM busybox\nRUN --mount=type=secret,id=x true\n",
        )],
    );
    let o = build(&d, &bad, &[]);
    assert!(
        !o.status.success() && stderr(&o).contains("line 2"),
        "{}",
        stderr(&o)
    );
    no_leftovers(&d);
}

/// Serves one HTTP response on 127.0.0.1; returns the port.
fn serve_once(body: &'static str) -> u16 {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = l.accept() {
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let _ = write!(
                s,
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

#[test]
fn copy_chown_by_name_and_add_from_url() {
    let d = Daemon::start();
    d.import_busybox();
    let port = serve_once("fetched over http\n");
    let df = format!(
        "FROM busybox\nCOPY --chown=alice:staff --chmod=640 owned.txt /data/\nADD http://127.0.0.1:{port}/dir/remote.txt /data/\nCMD [\"sh\", \"-c\", \"stat -c '%u:%g %a' /data/owned.txt; cat /data/remote.txt\"]\n"
    );
    let ctx = Ctx::new(&d, &[("Dockerfile", df.as_str()), ("owned.txt", "mine\n")]);
    build_ok(&d, &ctx, &["-t", "owned"]);
    assert_eq!(run_out(&d, &["owned"]), "1000:50 640\nfetched over http\n");
    // An unreachable URL is a clear error.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bad = Ctx::new(
        &d,
        &[(
            "Dockerfile",
            &*format!("FROM busybox\nADD http://127.0.0.1:{closed}/x /x\n"),
        )],
    );
    let o = build(&d, &bad, &[]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("ADD failed: cannot fetch"),
        "{}",
        stderr(&o)
    );
    let unknown = Ctx::new(
        &d,
        &[
            ("Dockerfile", "FROM busybox\nCOPY --chown=nobody-here x /\n"),
            ("x", "x"),
        ],
    );
    let o = build(&d, &unknown, &[]);
    assert!(
        stderr(&o).contains("unable to find user nobody-here"),
        "{}",
        stderr(&o)
    );
    no_leftovers(&d);
}
