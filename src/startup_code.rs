//! Code that only startup ran, let go as the tracer gets going.
//!
//! Starting touches code from all over the binary (the command line, the config loader, the
//! kubeconfig, TLS setup, discovery, the server's routes), and the kernel maps a file's pages in
//! blocks around each one touched, so a tracer that has just started holds about 10 MB of the
//! binary, most of which it never runs again; the steady work of watching, recording and
//! exporting runs in a few MB of it. Once the config is read, and again once every watched kind
//! has been listed, the binary's read-only mappings are handed back with `MADV_PAGEOUT`: the
//! kernel drops the pages no other process maps, and those the tracer runs again come back as it
//! runs them. Nothing else changes: it is the memory the system would reclaim first under
//! pressure, released before it is asked.

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

/// Advises `MADV_PAGEOUT` over every read-only mapping of the running binary; the bytes advised.
#[cfg(target_os = "linux")]
pub fn release() -> std::io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let exe = std::fs::metadata("/proc/self/exe")?;
    let maps = std::fs::read_to_string("/proc/self/maps")?;
    let mut advised = 0;
    for (start, end) in binary_read_only_ranges(&maps, exe.dev(), exe.ino()) {
        // SAFETY: the range is a whole mapping of this process, page-aligned as the kernel
        // reports it; it is read-only and backed by the binary's file, so the advice can only
        // drop pages that a later access reads back from the file unchanged.
        let rc = unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_PAGEOUT) };
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

/// The address ranges of `maps` (as `/proc/self/maps` lists them) that map the file with device
/// `dev` and inode `ino` without write permission.
fn binary_read_only_ranges(maps: &str, dev: u64, ino: u64) -> Vec<(usize, usize)> {
    let (major, minor) = (dev_major(dev), dev_minor(dev));
    maps.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let (range, perms, _offset, device, inode) = (f.next()?, f.next()?, f.next()?, f.next()?, f.next()?);
            if perms.contains('w') || inode.parse::<u64>().ok()? != ino {
                return None;
            }
            let (maj, min) = device.split_once(':')?;
            if u64::from_str_radix(maj, 16).ok()? != major || u64::from_str_radix(min, 16).ok()? != minor {
                return None;
            }
            let (start, end) = range.split_once('-')?;
            Some((usize::from_str_radix(start, 16).ok()?, usize::from_str_radix(end, 16).ok()?))
        })
        .collect()
}

/// glibc's encoding of a device number, which Linux's `stat` returns and musl shares.
fn dev_major(dev: u64) -> u64 {
    ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0x0000_0fff)
}

fn dev_minor(dev: u64) -> u64 {
    ((dev >> 12) & 0xffff_ff00) | (dev & 0x0000_00ff)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &str = "\
55a3f0de6000-55a3f1288000 r--p 00000000 fd:01 4242                       /usr/bin/sk-tracer
55a3f1288000-55a3f2198000 r-xp 004a2000 fd:01 4242                       /usr/bin/sk-tracer
55a3f2198000-55a3f2208000 r--p 013b2000 fd:01 4242                       /usr/bin/sk-tracer
55a3f2208000-55a3f220f000 rw-p 01422000 fd:01 4242                       /usr/bin/sk-tracer
55a3f220f000-55a3f2300000 rw-p 00000000 00:00 0                          [heap]
7fd1c4c66000-7fd1c4e66000 r-xp 00028000 fd:01 99                         /usr/lib/libc.so.6
7fd1c4e66000-7fd1c4e67000 r-xp 00000000 fd:02 4242                       /other/device/same/inode
";

    #[test]
    fn only_the_binarys_read_only_mappings_are_chosen() {
        // fd:01 as glibc's makedev encodes it.
        let dev = (0xfd << 8) | 0x01;
        assert_eq!((dev_major(dev), dev_minor(dev)), (0xfd, 0x01));
        let ranges = binary_read_only_ranges(MAPS, dev, 4242);
        assert_eq!(
            ranges,
            vec![(0x55a3f0de6000, 0x55a3f1288000), (0x55a3f1288000, 0x55a3f2198000), (0x55a3f2198000, 0x55a3f2208000)]
        );
    }

    #[test]
    fn large_device_numbers_decode() {
        let (major, minor) = (0x1234_u64, 0x56789_u64);
        let dev =
            ((major & 0xffff_f000) << 32) | ((major & 0xfff) << 8) | ((minor & 0xffff_ff00) << 12) | (minor & 0xff);
        assert_eq!((dev_major(dev), dev_minor(dev)), (major, minor));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn releasing_leaves_the_code_running() {
        // A test binary's own text: the call returns, and code after it still runs. A kernel
        // older than 5.4 does not know the advice and refuses it.
        match release() {
            Ok(advised) => assert!(advised > 0),
            Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EINVAL)),
        }
        assert_eq!(std::hint::black_box(2) + 2, 4);
    }
}
