use super::*;

fn exporter(root: &Path) -> Box<dyn Exporter> {
    build(&serde_json::Value::Null, &ExporterSettings { local_dir: Some(root.to_path_buf()), ..Default::default() })
        .unwrap()
}

fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(TEMP_PREFIX))
        .collect()
}

fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().filter_map(|e| e.ok()) {
        out.push(entry.path());
        if entry.file_type().unwrap().is_dir() {
            out.extend(tree(&entry.path()));
        }
    }
    out
}

#[tokio::test]
async fn writes_relative_absolute_and_file_urls_inside_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().canonicalize().unwrap();
    let e = exporter(dir.path());
    let d = e.deliver("day1/hour2/a.sktrace", vec![Bytes::from_static(b"one")]).await.unwrap();
    assert_eq!(std::fs::read(dir.path().join("day1/hour2/a.sktrace")).unwrap(), b"one");
    assert_eq!(d, Delivered { location: format!("file://{}", real.join("day1/hour2/a.sktrace").display()), bytes: 3 });
    e.deliver("./b.sktrace", vec![Bytes::from_static(b"b")]).await.unwrap();

    let abs = dir.path().join("c.sktrace");
    e.deliver(&format!("file://{}", abs.display()), vec![Bytes::from_static(b"two")]).await.unwrap();
    assert_eq!(std::fs::read(&abs).unwrap(), b"two");
    e.deliver(&format!("FILE://localhost{}", abs.display()), vec![Bytes::from_static(b"three")]).await.unwrap();
    assert_eq!(std::fs::read(&abs).unwrap(), b"three");
    e.deliver(abs.to_str().unwrap(), vec![Bytes::from_static(b"four")]).await.unwrap();
    assert_eq!(std::fs::read(&abs).unwrap(), b"four", "an existing file is replaced");
    e.deliver(real.join("d.sktrace").to_str().unwrap(), vec![Bytes::new()]).await.unwrap();
    assert_eq!(std::fs::read(real.join("d.sktrace")).unwrap(), b"", "an empty trace is still a file");
    e.deliver("e.sktrace", vec![]).await.unwrap();
    assert_eq!(std::fs::read(real.join("e.sktrace")).unwrap(), b"");

    // Chunks small and larger than the write buffer are written in order.
    let big = Bytes::from((0..WRITE_BUFFER + 7).map(|i| (i % 253) as u8).collect::<Vec<u8>>());
    let chunks = vec![Bytes::from_static(b"ab"), big.clone(), Bytes::from_static(b"c"), big.clone()];
    let d = e.deliver("f.sktrace", chunks.clone()).await.unwrap();
    assert_eq!(d.bytes, 3 + 2 * big.len() as u64);
    assert_eq!(std::fs::read(real.join("f.sktrace")).unwrap(), chunks.concat());

    assert!(temp_files(dir.path()).is_empty());
    assert!(temp_files(&dir.path().join("day1/hour2")).is_empty());
}

#[tokio::test]
async fn symlinks_that_stay_inside_are_followed() {
    let parent = tempfile::tempdir().unwrap();
    let real_root = parent.path().join("real");
    std::fs::create_dir_all(real_root.join("data")).unwrap();
    // The export directory itself reached through a symlink, and a symlinked subdirectory in it.
    let root = parent.path().join("exports");
    std::os::unix::fs::symlink(&real_root, &root).unwrap();
    std::os::unix::fs::symlink(real_root.join("data"), real_root.join("latest")).unwrap();
    let e = exporter(&root);
    e.deliver("latest/a.sktrace", vec![Bytes::from_static(b"a")]).await.unwrap();
    assert_eq!(std::fs::read(real_root.join("data/a.sktrace")).unwrap(), b"a");
    e.deliver(root.join("b.sktrace").to_str().unwrap(), vec![Bytes::from_static(b"b")]).await.unwrap();
    e.deliver(real_root.join("c.sktrace").to_str().unwrap(), vec![Bytes::from_static(b"c")]).await.unwrap();
    assert!(real_root.join("b.sktrace").exists() && real_root.join("c.sktrace").exists());
}

#[tokio::test]
async fn refuses_every_way_out_and_creates_nothing_outside() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir(root.join("sub")).unwrap();
    std::os::unix::fs::symlink(outside.path(), root.join("escape")).unwrap();
    std::os::unix::fs::symlink(outside.path(), root.join("sub/deeper")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("target"), root.join("link.sktrace")).unwrap();
    std::fs::write(root.join("inside.sktrace"), b"keep").unwrap();
    std::os::unix::fs::symlink(root.join("inside.sktrace"), root.join("inner-link.sktrace")).unwrap();
    std::os::unix::fs::symlink(root.join("missing"), root.join("dangling")).unwrap();
    let e = exporter(root);
    for dest in [
        "../x.sktrace".to_string(),
        "a/../../x.sktrace".to_string(),
        "sub/../x.sktrace".to_string(),
        "/etc/passwd".to_string(),
        format!("{}/x", outside.path().display()),
        format!("file://{}/x", outside.path().display()),
        format!("{}/../x", root.display()),
        "escape/x.sktrace".to_string(),
        "escape/new/dirs/x.sktrace".to_string(),
        "sub/deeper/new/x.sktrace".to_string(),
        format!("{}/escape/x.sktrace", root.display()),
        "link.sktrace".to_string(),
        "inner-link.sktrace".to_string(),
        "dangling/x.sktrace".to_string(),
    ] {
        let err = e.deliver(&dest, vec![Bytes::from_static(b"x")]).await.err().unwrap();
        assert!(matches!(err, ExportError::Forbidden { .. }), "{dest}: {err}");
        assert!(err.to_string().contains(&dest), "the message names the destination: {err}");
    }
    assert!(tree(outside.path()).is_empty(), "nothing was written or created outside: {:?}", tree(outside.path()));
    assert!(!root.join("missing").exists());
    assert_eq!(std::fs::read(root.join("inside.sktrace")).unwrap(), b"keep");
}

#[tokio::test]
async fn malformed_destinations_are_bad_requests() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plain"), b"").unwrap();
    std::fs::create_dir(dir.path().join("adir")).unwrap();
    let e = exporter(dir.path());
    for (dest, why) in [
        ("", "no file name"),
        ("day1/", "no file name"),
        ("file://relative/t.sktrace", "absolute path"),
        ("plain/t.sktrace", "not a directory"),
        ("adir", "is a directory"),
        (".", "export directory itself"),
    ] {
        let err = e.deliver(dest, vec![Bytes::from_static(b"x")]).await.err().unwrap();
        assert!(matches!(err, ExportError::BadDestination { .. }), "{dest}: {err}");
        assert!(err.to_string().contains(why), "{dest}: {err}");
    }
    let abs_root = dir.path().to_str().unwrap();
    let err = e.deliver(abs_root, vec![Bytes::new()]).await.err().unwrap();
    assert!(err.to_string().contains("export directory itself"), "{err}");
}

#[tokio::test]
async fn without_an_export_directory_local_exports_are_refused() {
    let off = build(&serde_json::Value::Null, &ExporterSettings::default()).unwrap();
    let err = off.deliver("a.sktrace", vec![Bytes::new()]).await.err().unwrap();
    assert!(matches!(err, ExportError::Forbidden { .. }), "{err}");
    assert!(err.to_string().contains("set export.localDir"), "{err}");

    let missing = tempfile::tempdir().unwrap().path().join("gone");
    let err = exporter(&missing).deliver("a.sktrace", vec![Bytes::new()]).await.err().unwrap();
    assert!(matches!(err, ExportError::Internal(_)) && err.to_string().contains("export.localDir"), "{err}");
}

#[test]
fn a_failed_write_leaves_neither_a_partial_file_nor_a_temporary_one() {
    let dir = tempfile::tempdir().unwrap();
    // Renaming a file over a non-empty directory fails after the data was written.
    let target = dir.path().join("busy");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("keep"), b"k").unwrap();
    assert!(write_atomically(&target, &[Bytes::from_static(b"data")]).is_err());
    assert!(temp_files(dir.path()).is_empty());
    assert!(target.is_dir() && std::fs::read(target.join("keep")).unwrap() == b"k");

    // A directory that vanished: nothing at all is left.
    let gone = dir.path().join("gone/t.sktrace");
    assert!(write_atomically(&gone, &[Bytes::from_static(b"data")]).is_err());
    assert!(!gone.exists());
}

#[tokio::test]
async fn concurrent_exports_to_new_directories_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let e: std::sync::Arc<dyn Exporter> = exporter(dir.path()).into();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let e = e.clone();
            tokio::spawn(
                async move { e.deliver(&format!("a/b/c/{i}.sktrace"), vec![Bytes::from(vec![i as u8; 64])]).await },
            )
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(std::fs::read_dir(dir.path().join("a/b/c")).unwrap().count(), 8);
}
