//! Reading the files a repository hands us (charts, values, configurations) without
//! ever blocking on one that is not a regular file. A FIFO named `ci/x-values.yaml`
//! would hang a plain read forever, and with it the trial's timeout and the run's
//! signal handling, since the read happens on a runtime worker thread.
//!
//! A leaf: imports nothing of the harness.

use std::io;
use std::path::Path;

/// The whole file as text, if it is a regular file (a symlink to one is fine).
pub fn read_to_string(path: &Path) -> io::Result<String> {
    ensure_regular(path)?;
    std::fs::read_to_string(path)
}

/// Whether `path` is a regular file (or a symlink to one); the error says what it is
/// instead. `stat` follows symlinks and never blocks, not even on a FIFO without a
/// writer.
pub fn ensure_regular(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let file_type = std::fs::metadata(path)?.file_type();
    let what = if file_type.is_file() {
        return Ok(());
    } else if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a FIFO (named pipe)"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_block_device() || file_type.is_char_device() {
        "a device"
    } else {
        "not a regular file"
    };
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("it is {what}, and chart-harness reads only regular files (replace it with one)"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_fifo_is_refused_at_once_and_a_symlinked_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("evil-values.yaml");
        let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo only reads the NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let started = Instant::now();
        let error = read_to_string(&fifo).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        assert!(error.to_string().contains("a FIFO"), "{error}");

        let real = dir.path().join("real.yaml");
        std::fs::write(&real, "a: 1\n").unwrap();
        let link = dir.path().join("link.yaml");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert_eq!(read_to_string(&link).unwrap(), "a: 1\n");

        let error = read_to_string(dir.path()).unwrap_err();
        assert!(error.to_string().contains("a directory"), "{error}");
    }
}
