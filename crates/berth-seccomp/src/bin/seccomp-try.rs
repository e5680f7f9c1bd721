//! `seccomp-try`: installs a seccomp filter in this process, makes one syscall
//! and reports what happened. The crate's end-to-end tests spawn it, because
//! filters cannot be installed in the multi-threaded test harness.
//!
//! ```text
//! seccomp-try PROFILE CALL [ARG...]
//! seccomp-try bench N
//! ```
//! PROFILE: an OCI `linux.seccomp` JSON file, `docker` or `docker:CAP_A,CAP_B`
//! (Docker's default profile for those capabilities), or `none`.
//! CALL: a native syscall number, `int80:NR` (i386 ABI via `int 0x80`, x86_64
//! only, no arguments). ARGs: up to six numbers (decimal or 0x-hex).
//! Prints `ret N` or `errno N`. With `SCMP_ACT_NOTIFY` rules, a helper thread
//! answers every notification with the value 4242.

use std::process::ExitCode;
use std::time::Instant;

use berth_seccomp::{compile, docker_default, Filter};
use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSeccompFilterFlag};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("seccomp-try: {e}");
            ExitCode::from(2)
        }
    }
}

fn number(s: &str) -> Result<u64, String> {
    let r = match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    r.map_err(|e| format!("bad number {s:?}: {e}"))
}

fn profile(arg: &str) -> Result<Option<LinuxSeccomp>, String> {
    if arg == "none" {
        return Ok(None);
    }
    if let Some(rest) = arg.strip_prefix("docker") {
        let caps: Vec<String> = rest
            .trim_start_matches(':')
            .split(',')
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect();
        return docker_default(&caps, Arch::ScmpArchNative)
            .map(Some)
            .map_err(|e| e.to_string());
    }
    let text = std::fs::read_to_string(arg).map_err(|e| format!("reading {arg}: {e}"))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| format!("parsing {arg}: {e}"))
}

fn set_no_new_privs() -> Result<(), String> {
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    if rc != 0 {
        return Err(format!("no_new_privs: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

fn run(args: &[String]) -> Result<(), String> {
    let [prof, call, rest @ ..] = args else {
        return Err("usage: seccomp-try PROFILE CALL [ARG...] | bench N".into());
    };
    if prof == "bench" {
        return bench(number(call)?);
    }
    let spec = profile(prof)?;
    let mut argv = [0u64; 6];
    for (slot, a) in argv.iter_mut().zip(rest) {
        *slot = number(a)?;
    }

    if let Some(spec) = &spec {
        let filter = compile(spec).map_err(|e| e.to_string())?;
        let flags: Vec<LinuxSeccompFilterFlag> = spec.flags().clone().unwrap_or_default();
        // The helper thread exists before the filter, so it is not filtered.
        let (tx, rx) = std::sync::mpsc::channel::<std::os::fd::OwnedFd>();
        let helper = filter
            .uses_notify()
            .then(|| std::thread::spawn(move || answer(rx)));
        set_no_new_privs()?;
        let listener = filter.install(&flags).map_err(|e| e.to_string())?;
        if let Some(fd) = listener {
            tx.send(fd).map_err(|e| e.to_string())?;
        }
        drop(helper); // detached: it answers until the process exits
    }

    let ret: i64 = if let Some(nr) = call.strip_prefix("int80:") {
        int80(number(nr)?)?
    } else {
        let nr = number(call)? as libc::c_long;
        // SAFETY: the caller chooses a syscall and integer arguments for a
        // test; nothing in this process depends on their effect afterwards.
        let r = unsafe { libc::syscall(nr, argv[0], argv[1], argv[2], argv[3], argv[4], argv[5]) };
        if r < 0 {
            -i64::from(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
        } else {
            r
        }
    };
    if ret < 0 {
        println!("errno {}", -ret);
    } else {
        println!("ret {ret}");
    }
    Ok(())
}

/// Answers every seccomp notification with the value 4242.
fn answer(rx: std::sync::mpsc::Receiver<std::os::fd::OwnedFd>) {
    use std::os::fd::AsRawFd;
    let Ok(fd) = rx.recv() else { return };
    loop {
        // SAFETY: all-zero is a valid seccomp_notif (plain integers).
        let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        // SAFETY: the fd is a seccomp listener and `req` is a valid buffer.
        if unsafe { libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) } != 0 {
            return;
        }
        eprintln!("notified: nr {}", req.data.nr);
        let mut resp = libc::seccomp_notif_resp {
            id: req.id,
            val: 4242,
            error: 0,
            flags: 0,
        };
        // SAFETY: `resp` is a valid response buffer for this listener.
        unsafe { libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp) };
    }
}

/// A syscall through the i386 entry point; returns the raw result (-errno on error).
#[cfg(target_arch = "x86_64")]
fn int80(nr: u64) -> Result<i64, String> {
    let ret: i64;
    // SAFETY: `int 0x80` with only eax set (argument-less syscalls); the kernel
    // clobbers r8-r11 per the compat ABI, declared below.
    unsafe {
        std::arch::asm!(
            "int 0x80",
            inlateout("rax") nr as i64 => ret,
            lateout("r8") _, lateout("r9") _, lateout("r10") _, lateout("r11") _,
            options(nostack)
        );
    }
    // The compat ABI returns a 32-bit value.
    Ok(i64::from(ret as i32))
}

#[cfg(not(target_arch = "x86_64"))]
fn int80(_nr: u64) -> Result<i64, String> {
    Err("int80 calls exist only on x86_64".into())
}

/// Measures resolving and compiling Docker's default profile, installing it,
/// and the cost it adds to a cheap syscall.
fn bench(n: u64) -> Result<(), String> {
    let iterations = u32::try_from(n.max(1)).map_err(|e| e.to_string())?;
    let caps: Vec<String> = Vec::new();
    let t = Instant::now();
    let mut spec = None;
    for _ in 0..iterations {
        spec = Some(docker_default(&caps, Arch::ScmpArchNative).map_err(|e| e.to_string())?);
    }
    let per_resolve = t.elapsed() / iterations;
    let spec = spec.ok_or("no iterations")?;
    let t = Instant::now();
    let mut filter: Option<Filter> = None;
    for _ in 0..iterations {
        filter = Some(compile(&spec).map_err(|e| e.to_string())?);
    }
    let per_compile = t.elapsed() / iterations;
    let filter = filter.ok_or("no iterations")?;

    let getpid_cost = || {
        let rounds = 1_000_000u32;
        let t = Instant::now();
        for _ in 0..rounds {
            // SAFETY: getpid has no arguments and cannot fail.
            unsafe { libc::syscall(libc::SYS_getpid) };
        }
        t.elapsed() / rounds
    };
    let before = getpid_cost();
    set_no_new_privs()?;
    // Filters stack; the kernel allows 32768 instructions over all of them.
    let installs = u32::try_from(32_768 / (filter.len() + 4))
        .unwrap_or(1)
        .clamp(1, 20);
    let t = Instant::now();
    filter.install(&[]).map_err(|e| e.to_string())?;
    let first_install = t.elapsed();
    let after_one = getpid_cost();
    let t = Instant::now();
    for _ in 1..installs {
        filter.install(&[]).map_err(|e| e.to_string())?;
    }
    let per_install = t.elapsed() / installs.saturating_sub(1).max(1);
    println!("docker default profile: {} BPF instructions", filter.len());
    println!(
        "resolve (parse JSON, includes/excludes): {per_resolve:?} per iteration over {iterations}"
    );
    println!("compile to BPF: {per_compile:?} per iteration over {iterations}");
    println!(
        "install: first {first_install:?}, then {per_install:?} each over {} more",
        installs - 1
    );
    println!("getpid: {before:?} without filter, {after_one:?} with one filter");
    Ok(())
}
