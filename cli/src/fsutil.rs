//! File helpers: atomic private writes and random hex strings.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// `n` random bytes from the OS, as lowercase hex (`2 * n` characters).
pub fn random_hex(n: usize) -> io::Result<String> {
    let mut bytes = vec![0u8; n];
    getrandom::getrandom(&mut bytes).map_err(|e| io::Error::other(format!("getrandom: {e}")))?;
    Ok(to_hex(&bytes))
}

/// Lowercase hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Each nibble is below 16, the length of DIGITS.
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

/// Writes `bytes` to `path` atomically with permission `mode`: a temporary file in the
/// same directory (created exclusively with `mode`), flushed to disk, then renamed over
/// `path`. Readers see the old file or the new one, never a part.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let tmp = temp_path(path)?;
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `<dir>/.<name>.tmp-<random>`, beside `path`.
fn temp_path(path: &Path) -> io::Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} names no file", path.display()),
        )
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{}", random_hex(6)?));
    Ok(path.with_file_name(tmp_name))
}

/// Removes a file, treating "already gone" as success.
pub fn remove_if_exists(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Removes `path` if it is a Unix socket (an ipc channel left by a kernel); anything else
/// at that path is left alone.
pub fn remove_socket_if_exists(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => remove_if_exists(path),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn hex() {
        assert_eq!(to_hex(&[0x00, 0xab, 0x1f]), "00ab1f");
        let a = random_hex(4).unwrap();
        assert_eq!(a.len(), 8);
        assert!(a
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    }

    #[test]
    fn atomic_write_replaces_with_mode_and_leaves_no_temp_file() {
        let tmp = TempDir::new("fsutil");
        let path = tmp.path().join("f.json");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_atomic(&path, b"new", 0o600).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        // The new file is a new inode with the requested mode, not the old one rewritten.
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let names: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [std::ffi::OsString::from("f.json")]);
    }

    #[test]
    fn failed_atomic_write_keeps_the_old_file() {
        let tmp = TempDir::new("fsutil");
        // The target is a non-empty directory: rename fails, the temp file is removed.
        let target = tmp.path().join("d");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("x"), "x").unwrap();
        assert!(write_atomic(&target, b"new", 0o600).is_err());
        let names: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [std::ffi::OsString::from("d")]);
        assert!(write_atomic(Path::new("/"), b"x", 0o600).is_err());
    }

    #[test]
    fn only_sockets_are_removed_as_sockets() {
        let tmp = TempDir::new("fsutil");
        let sock = tmp.path().join("k-1");
        let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let plain = tmp.path().join("k-2");
        std::fs::write(&plain, "x").unwrap();
        remove_socket_if_exists(&sock).unwrap();
        remove_socket_if_exists(&plain).unwrap();
        remove_socket_if_exists(&tmp.path().join("k-3")).unwrap();
        assert!(!sock.exists());
        assert!(plain.exists());
    }

    #[test]
    fn remove_if_exists_is_idempotent() {
        let tmp = TempDir::new("fsutil");
        let p = tmp.path().join("x");
        std::fs::write(&p, "x").unwrap();
        remove_if_exists(&p).unwrap();
        remove_if_exists(&p).unwrap();
        assert!(!p.exists());
    }
}
