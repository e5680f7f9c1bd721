//! `up` in the foreground, as docker compose: the first Ctrl-C (or SIGTERM) stops the
//! project's containers gracefully, which ends their log streams and so `up`; a second one
//! exits at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::client::{Body, Client};

const SIGNALS: [libc::c_int; 2] = [libc::SIGINT, libc::SIGTERM];

/// Blocks SIGINT/SIGTERM in this thread (and threads it spawns later) and starts a thread
/// that stops containers `ids` on the first of them. The flag says whether one came.
pub fn stop_on_signal(client: &Client, ids: Vec<String>) -> Arc<AtomicBool> {
    // SAFETY: sigset operations on a local, zero-initialised set; pthread_sigmask on our thread.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in SIGNALS {
            libc::sigaddset(&mut set, s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    let hit = Arc::new(AtomicBool::new(false));
    let flag = hit.clone();
    let client = client.clone();
    let _ = std::thread::Builder::new()
        .name("compose-interrupt".into())
        .spawn(move || {
            let mut sig: libc::c_int = 0;
            // SAFETY: sigwait on a valid set that is blocked in every thread of ours.
            if unsafe { libc::sigwait(&set, &mut sig) } != 0 {
                return;
            }
            flag.store(true, Ordering::SeqCst);
            eprintln!("Gracefully stopping... (press Ctrl+C again to force)");
            // A second signal while the containers stop: leave at once.
            std::thread::spawn(move || {
                let mut again: libc::c_int = 0;
                // SAFETY: as above; the set stays blocked in every thread.
                if unsafe { libc::sigwait(&set, &mut again) } == 0 {
                    std::process::exit(130);
                }
            });
            for id in ids {
                let _ = client.request("POST", &format!("/containers/{id}/stop"), Body::Empty);
            }
        });
    hit
}
