//! Dropping the start-up code's page mappings once the monitor idles.
//!
//! On this kernel (6.18, ext4 with large page-cache folios) a fault on a cached binary maps the
//! whole folio around it, so merely running the start-up code leaves a megabyte or more of the
//! shim's and libc's text mapped in every monitor — shared page cache, but counted in each
//! monitor's RSS and paid for in page tables. When the container has been quiet for a moment
//! the monitor unmaps (`MADV_DONTNEED`) every read-only file mapping that holds no private
//! (copy-on-write) page: nothing is lost, since such a mapping only mirrors the file, and the
//! relay loop faults back in just the code it runs next.

use std::io::{BufRead, BufReader};

/// One read-only, file-backed mapping without private pages: safe to drop and refault.
#[derive(Debug, PartialEq)]
struct Clean {
    start: usize,
    len: usize,
}

/// Reads `/proc/self/smaps`-formatted text and returns the mappings that may be dropped:
/// not writable, backed by a file (a path), with resident pages and none of them anonymous.
fn clean_mappings(smaps: impl BufRead) -> Vec<Clean> {
    let mut out = Vec::new();
    // The mapping being read: (start, len, eligible so far, resident kB).
    let mut cur: Option<(usize, usize, bool, u64)> = None;
    for line in smaps.lines().map_while(Result::ok) {
        let mut f = line.split_ascii_whitespace();
        let Some(first) = f.next() else { continue };
        if let Some((a, b)) = first.split_once('-') {
            let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
            else {
                continue;
            };
            let perms = f.next().unwrap_or("");
            let path = f.nth(3).unwrap_or("");
            let eligible = perms.starts_with('r') && perms.as_bytes().get(1) == Some(&b'-');
            cur = Some((a, b.saturating_sub(a), eligible && path.starts_with('/'), 0));
            continue;
        }
        let Some((_, _, eligible, rss)) = cur.as_mut() else {
            continue;
        };
        let kb: u64 = f.next().and_then(|v| v.parse().ok()).unwrap_or(0);
        match first {
            "Rss:" => *rss = kb,
            // Private copies (relocations, written data), resident or swapped out, would be
            // lost: keep those mappings. (Dirty counts alone are page-cache state, harmless.)
            "Anonymous:" | "Swap:" if kb > 0 => *eligible = false,
            // The last field of a mapping's block.
            "VmFlags:" => {
                if let Some((start, len, true, rss)) = cur.take() {
                    if rss > 0 && !line.split_ascii_whitespace().any(|fl| fl == "lo") {
                        out.push(Clean { start, len });
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Unmaps the clean file-backed mappings of this process (see the module doc). Errors are
/// ignored: the trim only saves memory.
pub fn drop_clean_mappings() {
    let Ok(f) = std::fs::File::open("/proc/self/smaps") else {
        return;
    };
    for m in clean_mappings(BufReader::new(f)) {
        // SAFETY: the range is a whole read-only private/shared file mapping of this process
        // with no anonymous or dirty page; MADV_DONTNEED only drops its page-table entries and
        // the next access reads the same bytes from the file again.
        unsafe { libc::madvise(m.start as *mut libc::c_void, m.len, libc::MADV_DONTNEED) };
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const SMAPS: &str = "\
00400000-00500000 r-xp 00000000 08:01 123 /usr/bin/shim
Rss:                 512 kB
Anonymous:             0 kB
Private_Dirty:       512 kB
VmFlags: rd ex mr mw me
00600000-00610000 r--p 00100000 08:01 123 /usr/bin/shim
Rss:                  64 kB
Anonymous:            12 kB
Private_Dirty:        12 kB
VmFlags: rd mr mw me ac
7f400000-7f500000 r-xp 00000000 08:01 9 /usr/lib/libz.so.1
Rss:                  40 kB
Anonymous:             0 kB
Swap:                  8 kB
VmFlags: rd ex mr mw me
00610000-00620000 rw-p 00110000 08:01 123 /usr/bin/shim
Rss:                  64 kB
Anonymous:             0 kB
VmFlags: rd wr mr mw me ac
7f000000-7f001000 r--p 00000000 00:00 0 
Rss:                   4 kB
Anonymous:             0 kB
VmFlags: rd mr mw me
7f100000-7f200000 r-xp 00000000 08:01 9 /usr/lib/libc.so.6
Rss:                   0 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me
7f200000-7f300000 r-xp 00000000 08:01 9 /usr/lib/libm.so.6
Rss:                  40 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me lo
7fff0000-7fff2000 r-xp 00000000 00:00 0 [vdso]
Rss:                   8 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me de
";

    #[test]
    fn only_clean_read_only_file_mappings() {
        let got = clean_mappings(SMAPS.as_bytes());
        // Text yes (dirty page cache is no private copy); relocated (anonymous) or swapped read-only data, writable data, anonymous memory,
        // unmapped-yet, locked and the vdso no.
        assert_eq!(
            got,
            vec![Clean {
                start: 0x400000,
                len: 0x100000
            }]
        );
    }

    #[test]
    fn trimming_self_keeps_running() {
        drop_clean_mappings();
        // The code and the read-only data come back on access.
        let v: Vec<String> = (0..3).map(|i| format!("x{i}")).collect();
        assert_eq!(v.join(","), "x0,x1,x2");
    }
}
