//! Who started each cluster, so that a run killed outright (SIGKILL from a cancelled CI
//! job, the OOM killer) leaves nothing the next run cannot find and remove.
//!
//! Before anything of a cluster starts, a record `chart-harness-owner-<name>.json` is
//! written to the temporary directory: provider, name, the owner's pid and start time
//! (a pid is reused, the pair is not), and the files the cluster lives in. Its teardown
//! removes the record last, so a teardown that failed leaves it for a later prune.
//! [`prune`] removes the clusters whose owner is gone. A record is only a hint: it is
//! acted on only when every path in it is one of ours (see [`OwnerRecord::validate`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ClusterError, ProviderKind, kind, local};
use crate::tools::process::{self, ProcessSpec};

const RECORD_PREFIX: &str = "chart-harness-owner-";

/// The process that owns a cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub pid: u32,
    /// Clock ticks after boot at which the process started (`/proc/<pid>/stat`, field
    /// 22): with the pid, it names one process for the life of the machine.
    pub start_time: u64,
}

impl Owner {
    pub fn current() -> Option<Owner> {
        let pid = std::process::id();
        Some(Owner {
            pid,
            start_time: start_time(pid)?,
        })
    }

    pub fn alive(&self) -> bool {
        start_time(self.pid) == Some(self.start_time)
    }
}

/// Field 22 of `/proc/<pid>/stat`; the command name before it may hold spaces and
/// parentheses, so fields are counted after its closing parenthesis.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, after_name) = stat.rsplit_once(") ")?;
    // after_name starts at field 3 (state); field 22 is 19 further.
    after_name.split_whitespace().nth(19)?.parse().ok()
}

/// One cluster's record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerRecord {
    pub provider: ProviderKind,
    pub name: String,
    /// `None` once `cluster up` handed the cluster to other processes: `cluster down`
    /// removes it, and prune leaves it alone.
    pub owner: Option<Owner>,
    pub kubeconfig: PathBuf,
    /// The local cluster's work directory.
    pub workdir: Option<PathBuf>,
}

impl OwnerRecord {
    pub fn path(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("{RECORD_PREFIX}{name}.json"))
    }

    /// Writes the record, readable by the owner only, replacing it atomically.
    pub fn write(&self) -> Result<(), ClusterError> {
        let path = OwnerRecord::path(&self.name);
        let io = |source| ClusterError::Io {
            action: "write the cluster's owner record",
            path: path.clone(),
            source,
        };
        let text = serde_json::to_vec_pretty(self).expect("a record serializes");
        let mut file = tempfile::Builder::new()
            .prefix(RECORD_PREFIX)
            .suffix(".tmp")
            .tempfile_in(std::env::temp_dir())
            .map_err(io)?;
        std::io::Write::write_all(&mut file, &text).map_err(io)?;
        file.persist(&path).map_err(|error| io(error.error))?;
        Ok(())
    }

    pub fn remove(name: &str) {
        let path = OwnerRecord::path(name);
        if let Err(error) = std::fs::remove_file(&path)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!("cannot remove {}: {error}", path.display());
        }
    }

    /// Paths that are not ours are refused: the temporary directory may be shared, and
    /// prune must never kill or delete on the word of a file someone else wrote.
    pub fn validate(&self) -> Result<(), String> {
        let temp = std::env::temp_dir();
        let ours = |path: &Path, prefix: &str| {
            path.parent() == Some(temp.as_path())
                && path
                    .file_name()
                    .and_then(|name| name.to_str())
                    .is_some_and(|name| name.starts_with(prefix) && !name.contains(".."))
        };
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(format!("`{}` is not a cluster name of ours", self.name));
        }
        match (self.provider, &self.workdir) {
            (ProviderKind::Local, Some(workdir))
                if ours(workdir, local::WORKDIR_PREFIX)
                    && self.kubeconfig == workdir.join("kubeconfig") =>
            {
                Ok(())
            }
            (ProviderKind::Kind, None) if ours(&self.kubeconfig, kind::KUBECONFIG_PREFIX) => Ok(()),
            _ => Err(format!(
                "its paths ({}{}) are not under {} with the names chart-harness gives",
                self.kubeconfig.display(),
                self.workdir
                    .as_ref()
                    .map(|w| format!(", {}", w.display()))
                    .unwrap_or_default(),
                temp.display()
            )),
        }
    }
}

/// Every record in the temporary directory, with the file each came from; a record
/// that cannot be read or parsed comes back as its error.
fn records() -> Vec<(PathBuf, Result<OwnerRecord, String>)> {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with(RECORD_PREFIX) && name.ends_with(".json"))
        })
        .map(|path| {
            let record = std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|e| e.to_string()));
            (path, record)
        })
        .collect()
}

/// Removes every cluster whose owner is gone; `kind` deletes kind clusters (without
/// one they are named with the command to run). Returns one line per cluster removed,
/// or per record it could not act on.
pub async fn prune(kind: Option<&Path>) -> Vec<String> {
    let mut said = Vec::new();
    for (path, record) in records() {
        let record = match record.and_then(|r| r.validate().map(|()| r)) {
            Ok(record) => record,
            Err(problem) => {
                said.push(format!(
                    "ignored the cluster record {}: {problem}; remove it by hand if no cluster of yours needs it",
                    path.display()
                ));
                continue;
            }
        };
        let Some(owner) = record.owner else {
            continue;
        };
        if owner.alive() {
            continue;
        }
        let removed = match record.provider {
            ProviderKind::Local => {
                let workdir = record.workdir.as_deref().expect("validated");
                local::remove_orphan(workdir).await
            }
            ProviderKind::Kind => remove_kind(kind, &record).await,
            ProviderKind::Existing => Ok(()),
        };
        match removed {
            Ok(()) => {
                OwnerRecord::remove(&record.name);
                said.push(format!(
                    "removed the {} cluster `{}` that process {} left behind when it ended without tearing it down",
                    record.provider.as_str(),
                    record.name,
                    owner.pid
                ));
            }
            Err(error) => said.push(format!(
                "could not remove the {} cluster `{}` left by process {}: {error}",
                record.provider.as_str(),
                record.name,
                owner.pid
            )),
        }
    }
    said
}

async fn remove_kind(kind: Option<&Path>, record: &OwnerRecord) -> Result<(), String> {
    let Some(kind) = kind else {
        return Err(format!(
            "kind is not installed here; run `kind delete cluster --name {}`",
            record.name
        ));
    };
    let spec = ProcessSpec::new(kind, Duration::from_secs(120)).args([
        "delete",
        "cluster",
        "--name",
        &record.name,
    ]);
    process::run_checked(&spec)
        .await
        .map_err(|error| error.to_string())?;
    match std::fs::remove_file(&record.kubeconfig) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error.to_string()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn local_record(workdir: PathBuf) -> OwnerRecord {
        OwnerRecord {
            provider: ProviderKind::Local,
            name: "chart-harness-1-abcdef".into(),
            owner: Owner::current(),
            kubeconfig: workdir.join("kubeconfig"),
            workdir: Some(workdir),
        }
    }

    #[test]
    fn this_process_is_alive_and_a_reused_pid_is_not() {
        let me = Owner::current().unwrap();
        assert!(me.alive());
        let impostor = Owner {
            start_time: me.start_time + 1,
            ..me
        };
        assert!(!impostor.alive());
        assert!(
            !Owner {
                pid: u32::MAX,
                start_time: 1
            }
            .alive()
        );
    }

    #[test]
    fn our_own_paths_are_accepted() {
        let temp = std::env::temp_dir();
        local_record(temp.join("chart-harness-kwok-x1"))
            .validate()
            .unwrap();
        OwnerRecord {
            provider: ProviderKind::Kind,
            name: "chart-harness-1-abcdef".into(),
            owner: None,
            kubeconfig: temp.join("chart-harness-kind-x1.kubeconfig"),
            workdir: None,
        }
        .validate()
        .unwrap();
    }

    #[rstest]
    #[case::workdir_elsewhere(local_record(PathBuf::from("/home/user")), "are not under")]
    #[case::not_our_prefix(local_record(std::env::temp_dir().join("other")), "are not under")]
    #[case::kubeconfig_elsewhere(
        OwnerRecord {
            kubeconfig: PathBuf::from("/etc/passwd"),
            ..local_record(std::env::temp_dir().join("chart-harness-kwok-x1"))
        },
        "are not under"
    )]
    #[case::odd_name(
        OwnerRecord {
            name: "x; rm -rf /".into(),
            ..local_record(std::env::temp_dir().join("chart-harness-kwok-x1"))
        },
        "not a cluster name"
    )]
    fn paths_that_are_not_ours_are_refused(#[case] record: OwnerRecord, #[case] expected: &str) {
        let message = record.validate().unwrap_err();
        assert!(message.contains(expected), "{message}");
    }
}
