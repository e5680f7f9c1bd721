//! Docker's `--sig-proxy` (on by default for attached runs): signals the CLI receives while
//! attached are forwarded to the container instead of killing the CLI.

use crate::client::{Body, Client};

const PROXIED: [libc::c_int; 6] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

/// Blocks the proxied signals in this thread (and the threads it spawns later) and starts a
/// thread that waits for them and sends each to container `id`.
pub fn start(client: &Client, id: &str) {
    // SAFETY: sigset operations on a local, zero-initialised set; pthread_sigmask on our thread.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in PROXIED {
            libc::sigaddset(&mut set, s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    let client = client.clone();
    let id = id.to_owned();
    let _ = std::thread::Builder::new()
        .name("sig-proxy".into())
        .spawn(move || loop {
            let mut sig: libc::c_int = 0;
            // SAFETY: sigwait on a valid set that is blocked in every thread of ours.
            if unsafe { libc::sigwait(&set, &mut sig) } != 0 {
                return;
            }
            let path = format!(
                "/containers/{}/kill?signal={sig}",
                super::commands::enc(&id)
            );
            let _ = client.request("POST", &path, Body::Empty);
        });
}
