//! `berth build` never reads or writes the host through a symlink in a stage or image (issue
//! 14): every path a build resolves — `COPY --from` sources, COPY destinations, WORKDIR, the
//! `/etc/passwd` a `--chown` or USER name is looked up in — resolves inside that stage's root,
//! following its symlinks there as docker does. Each test plants a marker on the host at the
//! path a stage's symlink names; the marker must never reach the image, and the stage's own
//! file at that path must.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{stderr, stdout, Daemon};

static SEQ: AtomicUsize = AtomicUsize::new(0);

const HOST: &str = "HOST-SECRET";

/// A unique name and a host path under `dir` holding the marker, removed on drop.
struct Marker {
    name: String,
    path: PathBuf,
}

impl Marker {
    /// `dir/<name>` as a file containing [`HOST`] (`as_dir`: a directory holding `f` with it).
    fn new(dir: &str, as_dir: bool) -> Marker {
        let name = format!(
            "berth-marker-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        );
        let path = Path::new(dir).join(&name);
        if as_dir {
            fs::create_dir_all(&path).unwrap();
            fs::write(path.join("f"), HOST).unwrap();
            fs::write(path.join("passwd"), "leak:x:4321:4321::/:/bin/sh\n").unwrap();
            fs::write(path.join("group"), "leak:x:4321:\n").unwrap();
        } else {
            fs::write(&path, HOST).unwrap();
        }
        Marker { name, path }
    }
}

impl Drop for Marker {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
        let _ = fs::remove_file(&self.path);
    }
}

/// Builds `dockerfile` (with a context file `f` = `ctx-file`) as `tag`; returns the output.
fn build(d: &Daemon, tag: &str, dockerfile: &str) -> String {
    let ctx = d.dir.join(format!("ctx-{tag}"));
    fs::create_dir_all(&ctx).unwrap();
    fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
    fs::write(ctx.join("f"), "ctx-file\n").unwrap();
    let o = d.berth(&["build", "-t", tag, ctx.to_str().unwrap()]);
    let _ = fs::remove_dir_all(&ctx);
    let out = format!("{}{}", stdout(&o), stderr(&o));
    assert!(
        o.status.success(),
        "build failed: {out}\ndaemon log:\n{}",
        d.log()
    );
    assert!(
        !out.contains(HOST),
        "the host marker reached the build: {out}"
    );
    out
}

/// The output of `sh -c script` in a container of `image` (working directory `/`).
fn run_sh(d: &Daemon, image: &str, script: &str) -> String {
    let id = d
        .ok(&["run", "-d", "-u", "0", "-w", "/", image, "sh", "-c", script])
        .trim()
        .to_owned();
    d.ok(&["wait", &id]);
    let out = d.ok(&["logs", &id]);
    d.ok(&["rm", &id]);
    assert!(
        !out.contains(HOST),
        "the host marker is in the image: {out}"
    );
    out
}

#[test]
fn copy_from_through_an_absolute_symlink_reads_the_stage() {
    let d = Daemon::start();
    d.import_busybox();
    let m = Marker::new("/root", false);
    let n = &m.name;
    build(
        &d,
        "confine-abs",
        &format!(
            "FROM busybox AS s\nRUN echo stage-file > /root/{n} && ln -s /root /y\n\
             FROM busybox\nCOPY --from=s /y/{n} /leak\n"
        ),
    );
    assert_eq!(run_sh(&d, "confine-abs", "cat /leak"), "stage-file\n");
}

#[test]
fn copy_from_through_a_dotdot_symlink_reads_the_stage() {
    let d = Daemon::start();
    d.import_busybox();
    let m = Marker::new("/tmp", false);
    let n = &m.name;
    // Far more `..` than the view's mount point is deep: on the host this reaches /tmp.
    let up = "../".repeat(40);
    build(
        &d,
        "confine-rel",
        &format!(
            "FROM busybox AS s\nRUN mkdir -p /a/b && echo stage-file > /tmp/{n} && ln -s {up}tmp /a/b/up\n\
             FROM busybox\nCOPY --from=s /a/b/up/{n} /leak\n"
        ),
    );
    assert_eq!(run_sh(&d, "confine-rel", "cat /leak"), "stage-file\n");
}

#[test]
fn copy_from_a_symlinked_directory_copies_the_stage_target() {
    let d = Daemon::start();
    d.import_busybox();
    let m = Marker::new("/tmp", true);
    let n = &m.name;
    build(
        &d,
        "confine-dir",
        &format!(
            "FROM busybox AS s\nRUN mkdir -p /tmp/{n} && echo stage-file > /tmp/{n}/f && ln -s /tmp/{n} /x\n\
             FROM busybox\nCOPY --from=s /x/ /out/\nCOPY --from=s /x /out2/\n"
        ),
    );
    // Docker copies the contents of the link's target in the stage, not the link.
    let out = run_sh(
        &d,
        "confine-dir",
        "cat /out/f /out2/f; ls -A /out /out2; test -L /out/x || echo no-link",
    );
    assert_eq!(
        out,
        "stage-file\nstage-file\n/out:\nf\n\n/out2:\nf\nno-link\n"
    );
}

#[test]
fn workdir_through_a_symlink_is_created_inside_the_image() {
    let d = Daemon::start();
    d.import_busybox();
    let m = Marker::new("/tmp", true);
    let n = &m.name;
    build(
        &d,
        "confine-workdir",
        &format!("FROM busybox\nRUN ln -s /tmp /w\nWORKDIR /w/{n}\n"),
    );
    // The directory is in the image at the link's target there (the container runs in `/`,
    // so only the WORKDIR step can have made it), empty, and /w is still the link.
    let out = run_sh(
        &d,
        "confine-workdir",
        &format!("readlink /w; test -d /tmp/{n} && echo dir; ls -A /tmp/{n} | wc -l"),
    );
    assert_eq!(out, "/tmp\ndir\n0\n");
    let wd = d.ok(&[
        "image",
        "inspect",
        "-f",
        "{{.Config.WorkingDir}}",
        "confine-workdir",
    ]);
    assert_eq!(wd.trim(), format!("/w/{n}"));
}

#[test]
fn user_and_chown_read_a_symlinked_passwd_inside_the_stage() {
    let d = Daemon::start();
    d.import_busybox();
    // On the host the links' targets exist too, naming `leak` uid 4321.
    let m = Marker::new("/tmp", true);
    let n = &m.name;
    let out = build(
        &d,
        "confine-user",
        &format!(
            "FROM busybox\n\
             RUN mkdir -p /tmp/{n} && echo 'leak:x:1234:1234::/:/bin/sh' > /tmp/{n}/passwd \
             && echo 'leak:x:1234:' > /tmp/{n}/group \
             && ln -sf /tmp/{n}/passwd /etc/passwd && ln -sf /tmp/{n}/group /etc/group\n\
             COPY --chown=leak:leak f /f\n\
             USER leak\n\
             RUN echo \"ids=$(id -u):$(id -g)\"\n"
        ),
    );
    assert!(out.contains("ids=1234:1234"), "{out}");
    assert!(!out.contains("4321"), "{out}");
    assert_eq!(
        run_sh(&d, "confine-user", "stat -c %u:%g /f"),
        "1234:1234\n"
    );
}

#[test]
fn copy_destination_through_a_symlink_lands_inside_the_image() {
    let d = Daemon::start();
    d.import_busybox();
    // A directory on the host where the image's /d/<name> leads: the image has no such
    // directory, so the file is copied *as* /tmp/<name>.
    let m = Marker::new("/tmp", true);
    let n = &m.name;
    build(
        &d,
        "confine-dest",
        &format!("FROM busybox\nRUN ln -s /tmp /d\nCOPY f /d/{n}\nCOPY f /d/\n"),
    );
    let out = run_sh(
        &d,
        "confine-dest",
        &format!("readlink /d; cat /tmp/{n} /tmp/f"),
    );
    assert_eq!(out, "/tmp\nctx-file\nctx-file\n");
}
