//! Code that only startup ran, let go as the tracer gets going.
//!
//! Starting touches code from all over the binary (the command line, the config loader, the
//! kubeconfig, TLS setup, discovery, the server's routes), and the kernel maps a file's pages in
//! blocks around each one touched, so a tracer that has just started holds about 10 MB of the
//! binary, most of which it never runs again; the steady work of watching, recording and
//! exporting runs in a few MB of it. Once the config is read, and again once every watched kind
//! has been listed, the binary's read-only mappings are unmapped with `MADV_DONTNEED`: the pages
//! stay in the page cache, as any file's do, and those the tracer runs again are mapped back from
//! there as it runs them (a minor fault, no read). Only mappings without private copies are
//! advised: the relocated read-only data (`RELRO`) was written at load time, and dropping its
//! copies would bring back the file's unrelocated bytes.
//!
//! `MADV_PAGEOUT`, which also evicts the pages from the cache, was tried first: the first export
//! then read its code back from disk, on a thread of idle priority, and took 99 ms in place of 6
//! on the real control plane's load of 3,000 Deployments.

use std::time::Duration;

use sk_core::sources::SourceHealth;

/// How long to wait for every kind to be listed before letting go anyway: a kind whose CRD is
/// not installed may never be, and startup is long over by then.
const AT_MOST_AFTER: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(250);

/// Waits until every kind `health` knows of is ready (or [`AT_MOST_AFTER`]), then lets go of the
/// binary's pages; logs what that did.
pub async fn release_when_listed(health: std::sync::Arc<SourceHealth>) {
    let deadline = tokio::time::Instant::now() + AT_MOST_AFTER;
    while tokio::time::Instant::now() < deadline {
        let kinds = health.all();
        if !kinds.is_empty() && kinds.values().all(|s| s.is_ready()) {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    release_logged("listed");
}

/// Lets go of the binary's pages now, and logs it: `stage` says how far startup has got.
pub fn release_logged(stage: &'static str) {
    let before = resident_bytes();
    match release() {
        Ok(advised) => {
            tracing::debug!(
                stage,
                advised_bytes = advised,
                resident_before = before,
                resident_after = resident_bytes(),
                "released the pages of startup code"
            )
        }
        Err(e) => tracing::debug!(stage, error = %e, "could not release the pages of startup code"),
    }
}

/// The process's resident bytes, from `/proc/self/statm`; 0 where that cannot be read.
fn resident_bytes() -> u64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|n| n.parse::<u64>().ok()))
        .unwrap_or(0);
    pages * page_size()
}

fn page_size() -> u64 {
    // SAFETY: sysconf reads a constant of the system; it has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).unwrap_or(4096)
}

/// Advises `MADV_DONTNEED` over every mapping of the running binary that is read-only and holds
/// no private copy of a page; the bytes advised.
#[cfg(target_os = "linux")]
pub fn release() -> std::io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let exe = std::fs::metadata("/proc/self/exe")?;
    let smaps = std::fs::read_to_string("/proc/self/smaps")?;
    let mut advised = 0;
    for (start, end) in binary_shared_ranges(&smaps, exe.dev(), exe.ino()) {
        // SAFETY: the range is a whole mapping of this process, page-aligned as the kernel
        // reports it, read-only, backed by the binary's file and without private pages, so
        // dropping its page table entries can only make later accesses map the file's pages again,
        // unchanged.
        let rc = unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        advised += (end - start) as u64;
    }
    Ok(advised)
}

#[cfg(not(target_os = "linux"))]
pub fn release() -> std::io::Result<u64> {
    Ok(0)
}

/// The address ranges of `smaps` (as `/proc/self/smaps` lists them) that map the file with device
/// `dev` and inode `ino` without write permission and without private (`Anonymous`) pages.
#[cfg(target_os = "linux")]
fn binary_shared_ranges(smaps: &str, dev: u64, ino: u64) -> Vec<(usize, usize)> {
    let (major, minor) = (u64::from(libc::major(dev)), u64::from(libc::minor(dev)));
    let mut ranges = Vec::new();
    // The mapping being read, if it is one of the binary's read-only ones, until its
    // `Anonymous:` line says whether it holds private pages.
    let mut current: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        if let Some(kb) = line.strip_prefix("Anonymous:") {
            if let Some(range) = current.take() {
                if kb.trim().trim_end_matches("kB").trim() == "0" {
                    ranges.push(range);
                }
            }
            continue;
        }
        let mut f = line.split_whitespace();
        let (Some(range), Some(perms), Some(_offset), Some(device), Some(inode)) =
            (f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        let Some((start, end)) = range.split_once('-') else { continue };
        let (Ok(start), Ok(end)) = (usize::from_str_radix(start, 16), usize::from_str_radix(end, 16)) else {
            continue;
        };
        // A mapping's header: what follows belongs to it, whether or not it is one of ours.
        current = None;
        let same_file = inode.parse::<u64>().ok() == Some(ino)
            && device.split_once(':').is_some_and(|(maj, min)| {
                u64::from_str_radix(maj, 16).ok() == Some(major) && u64::from_str_radix(min, 16).ok() == Some(minor)
            });
        if same_file && !perms.contains('w') {
            current = Some((start, end));
        }
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mapping's header and the fields the selection reads, as `/proc/self/smaps` has them.
    fn entry(range: &str, perms: &str, dev: &str, inode: u64, path: &str, anonymous_kb: u64) -> String {
        format!(
            "{range} {perms} 00000000 {dev} {inode}          {path}\nSize:               64 kB\nRss:                32 kB\nAnonymous:          {anonymous_kb} kB\nVmFlags: rd mr mw me\n"
        )
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn only_the_binarys_read_only_unwritten_mappings_are_chosen() {
        let smaps = [
            entry("55a3f0de6000-55a3f1288000", "r--p", "fd:01", 4242, "/usr/bin/sk-tracer", 0),
            entry("55a3f1288000-55a3f2198000", "r-xp", "fd:01", 4242, "/usr/bin/sk-tracer", 0),
            // RELRO: read-only now, written by the loader's relocations.
            entry("55a3f2198000-55a3f2208000", "r--p", "fd:01", 4242, "/usr/bin/sk-tracer", 448),
            entry("55a3f2208000-55a3f220f000", "rw-p", "fd:01", 4242, "/usr/bin/sk-tracer", 0),
            entry("55a3f220f000-55a3f2300000", "rw-p", "00:00", 0, "[heap]", 0),
            entry("7fd1c4c66000-7fd1c4e66000", "r-xp", "fd:01", 99, "/usr/lib/libc.so.6", 0),
            entry("7fd1c4e66000-7fd1c4e67000", "r-xp", "fd:02", 4242, "/other/device/same/inode", 0),
        ]
        .concat();
        let dev = libc::makedev(0xfd, 0x01);
        assert_eq!(
            binary_shared_ranges(&smaps, dev, 4242),
            vec![(0x55a3f0de6000, 0x55a3f1288000), (0x55a3f1288000, 0x55a3f2198000)]
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_mapping_without_an_anonymous_line_is_left_alone() {
        let smaps = "55a3f1288000-55a3f2198000 r-xp 00000000 fd:01 4242    /usr/bin/sk-tracer\nRss: 4 kB\n";
        assert!(binary_shared_ranges(smaps, libc::makedev(0xfd, 0x01), 4242).is_empty());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn releasing_leaves_the_code_running() {
        // A test binary's own text and constants: the call returns, and code and data after it
        // are still what they were.
        static TABLE: [u64; 4] = [3, 1, 4, 1];
        let advised = release().expect("madvise");
        assert!(advised > 0);
        assert_eq!(std::hint::black_box(&TABLE).iter().sum::<u64>(), 9);
        assert_eq!(std::hint::black_box(2) + 2, 4);
    }
}
