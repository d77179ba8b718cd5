//! One run's report files. Two runs given the same report directory (two CI jobs on one
//! runner, a developer's second terminal) would overwrite each other's `junit.xml` and
//! `report.json` without a word. The first run holds a lock on the directory; a run that
//! finds it held writes its reports into a subdirectory of its own and says so.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use super::ReportError;

const LOCK_FILE: &str = ".reports.lock";

/// Where this run's reports go; the lock is held as long as this lives.
#[derive(Debug)]
pub struct ReportClaim {
    pub dir: PathBuf,
    /// Set when another run holds the report directory: one line saying where this
    /// run's reports go instead.
    pub note: Option<String>,
    _lock: File,
}

/// Claims `report_dir` for this run, or, when another live run holds it, a
/// subdirectory named after this process.
pub fn claim(report_dir: &Path) -> Result<ReportClaim, ReportError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReportError::Write { path, source }
    };
    std::fs::create_dir_all(report_dir).map_err(io(report_dir))?;
    let lock_path = report_dir.join(LOCK_FILE);
    let mut lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(io(&lock_path))?;
    if try_lock(&lock) {
        // The holder's pid, for the message another run prints.
        lock.set_len(0).map_err(io(&lock_path))?;
        lock.rewind().map_err(io(&lock_path))?;
        write!(lock, "{}", std::process::id()).map_err(io(&lock_path))?;
        return Ok(ReportClaim {
            dir: report_dir.to_path_buf(),
            note: None,
            _lock: lock,
        });
    }
    let mut holder = String::new();
    let _ = lock.read_to_string(&mut holder);
    let own = report_dir.join(format!("concurrent-{}", std::process::id()));
    std::fs::create_dir_all(&own).map_err(io(&own))?;
    let note = format!(
        "another run (process {}) is writing its reports in {}; this run's reports go to {}",
        holder.trim(),
        report_dir.display(),
        own.display()
    );
    // The subdirectory is this process's alone: its own lock always succeeds.
    let own_claim = claim(&own)?;
    Ok(ReportClaim {
        note: Some(note),
        ..own_claim
    })
}

/// An exclusive advisory lock, released by the kernel when the file closes, even if
/// this process is killed.
fn try_lock(file: &File) -> bool {
    // SAFETY: flock only operates on the descriptor, which `file` keeps open.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_claim_gets_its_own_directory_until_the_first_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let first = claim(dir.path()).unwrap();
        assert_eq!(first.dir, dir.path());
        assert_eq!(first.note, None);

        // flock locks belong to the open file description: a second open in this
        // process conflicts as another process's would.
        let second = claim(dir.path()).unwrap();
        assert_eq!(
            second.dir,
            dir.path()
                .join(format!("concurrent-{}", std::process::id()))
        );
        let note = second.note.clone().unwrap();
        assert!(
            note.contains(&format!("process {}", std::process::id())),
            "{note}"
        );

        drop(first);
        drop(second);
        let third = claim(dir.path()).unwrap();
        assert_eq!(third.dir, dir.path());
    }
}
