//! Official release downloads: the asset and its published sha256, verified before the
//! binary is extracted. Much faster than building, where the internet is reachable.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::ToolError;
use super::pins::ReleaseLocation;

/// Short enough that `--from auto` without internet falls back to a source build at once.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Between two reads of a download; a stalled mirror fails instead of hanging.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// A whole download, however slow the link.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// Downloads `location`, checks it against its published sha256, and writes the binary
/// to `dest` (mode 0755). `scratch` holds the download and is the caller's to delete; on
/// any error `dest` is not created.
pub(crate) fn fetch_verified_binary(
    location: &ReleaseLocation,
    scratch: &Path,
    dest: &Path,
) -> Result<(), ToolError> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_resolve(Some(CONNECT_TIMEOUT))
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_recv_response(Some(READ_TIMEOUT))
        .timeout_per_read(Some(READ_TIMEOUT))
        .timeout_global(Some(DOWNLOAD_TIMEOUT))
        .build()
        .into();
    let file_name = location.url.rsplit('/').next().unwrap_or_default();

    let checksum_text = get(&agent, &location.checksum_url)?
        .into_body()
        .read_to_string()
        .map_err(|e| download_error(&location.checksum_url, e))?;
    let expected =
        parse_checksum(&checksum_text, file_name).ok_or_else(|| ToolError::Download {
            url: location.checksum_url.clone(),
            message: format!("it holds no sha256 for {file_name}"),
        })?;

    let download = scratch.join(file_name);
    let actual = {
        let mut body = get(&agent, &location.url)?.into_body().into_reader();
        let mut file =
            File::create(&download).map_err(|source| io_error("create", &download, source))?;
        copy_hashing(&mut body, &mut file).map_err(|e| ToolError::Download {
            url: location.url.clone(),
            message: e.to_string(),
        })?
    };
    if actual != expected {
        let _ = std::fs::remove_file(&download);
        return Err(ToolError::ChecksumMismatch {
            url: location.url.clone(),
            checksum_url: location.checksum_url.clone(),
            expected,
            actual,
        });
    }

    let staged = scratch.join(".binary");
    match &location.archive_path {
        Some(inner) => extract_file(&download, inner, &staged).map_err(|message| {
            let _ = std::fs::remove_file(&staged);
            ToolError::Download {
                url: location.url.clone(),
                message,
            }
        })?,
        None => std::fs::rename(&download, &staged)
            .map_err(|source| io_error("move the download to", &staged, source))?,
    }
    make_executable(&staged)?;
    std::fs::rename(&staged, dest).map_err(|source| io_error("install", dest, source))
}

fn get(agent: &ureq::Agent, url: &str) -> Result<ureq::http::Response<ureq::Body>, ToolError> {
    agent.get(url).call().map_err(|e| download_error(url, e))
}

fn download_error(url: &str, error: ureq::Error) -> ToolError {
    ToolError::Download {
        url: url.to_string(),
        message: error.to_string(),
    }
}

fn io_error(action: &str, path: &Path, source: std::io::Error) -> ToolError {
    ToolError::Io {
        action: action.to_string(),
        path: path.to_path_buf(),
        source,
    }
}

/// Copies everything, returning the lowercase hex sha256 of what was copied.
fn copy_hashing(reader: &mut impl Read, writer: &mut impl Write) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = reader.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        writer.write_all(&buffer[..read])?;
    }
    writer.flush()?;
    Ok(hex(&hasher.finalize()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The sha256 for `file_name` in a checksum file: either one bare digest (helm's
/// `.sha256sum` files) or `sha256sum` lines of `<digest>  <name>` (checksums.txt).
pub(crate) fn parse_checksum(text: &str, file_name: &str) -> Option<String> {
    let is_digest = |s: &str| s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit());
    let lines: Vec<(&str, Option<&str>)> = text
        .lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let digest = parts.next()?;
            let name = parts.next().map(|n| n.trim_start_matches('*'));
            is_digest(digest).then_some((digest, name))
        })
        .collect();
    let chosen =
        lines
            .iter()
            .find(|(_, name)| *name == Some(file_name))
            .or(match lines.as_slice() {
                [only] if only.1.is_none() || only.1 == Some(file_name) => Some(only),
                _ => None,
            })?;
    Some(chosen.0.to_ascii_lowercase())
}

/// Writes the tarball's `inner` file to `dest`.
fn extract_file(tarball: &Path, inner: &Path, dest: &Path) -> Result<(), String> {
    let file = File::open(tarball).map_err(|e| format!("cannot open the download: {e}"))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let entries = archive
        .entries()
        .map_err(|e| format!("not a .tar.gz archive: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("corrupt archive: {e}"))?;
        let path = entry.path().map_err(|e| format!("corrupt archive: {e}"))?;
        if normalized(&path) == normalized(inner) {
            let mut out =
                File::create(dest).map_err(|e| format!("cannot create {}: {e}", dest.display()))?;
            std::io::copy(&mut entry, &mut out)
                .map_err(|e| format!("cannot extract {}: {e}", inner.display()))?;
            return Ok(());
        }
    }
    Err(format!("the archive has no {}", inner.display()))
}

/// `./linux-amd64/helm` and `linux-amd64/helm` are the same entry.
fn normalized(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect()
}

fn make_executable(path: &Path) -> Result<(), ToolError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|source| io_error("make executable", path, source))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const DIGEST: &str = "3f1f0aa8a7ac9cd2f8b2cb0e4d6c1e1b7f0c8b9a4e3d2c1b0a99887766554433";
    const OTHER: &str = "0000000000000000000000000000000000000000000000000000000000000000";

    #[rstest]
    #[case::bare_digest(format!("{DIGEST}\n"), Some(DIGEST))]
    #[case::named_line(format!("{DIGEST}  helm.tar.gz\n"), Some(DIGEST))]
    #[case::binary_mode_marker(format!("{DIGEST} *helm.tar.gz\n"), Some(DIGEST))]
    #[case::picks_the_named_file(format!("{OTHER}  other.tar.gz\n{DIGEST}  helm.tar.gz\n"), Some(DIGEST))]
    #[case::uppercase(format!("{}\n", DIGEST.to_uppercase()), Some(DIGEST))]
    #[case::only_other_files(format!("{OTHER}  other.tar.gz\n"), None)]
    #[case::not_a_digest("404 page not found\n".to_string(), None)]
    fn checksum_files_yield_the_digest_of_the_asset(
        #[case] text: String,
        #[case] expected: Option<&str>,
    ) {
        assert_eq!(parse_checksum(&text, "helm.tar.gz").as_deref(), expected);
    }

    #[test]
    fn hashing_copy_matches_a_known_digest() {
        let mut out = Vec::new();
        let digest = copy_hashing(&mut &b"abc"[..], &mut out).unwrap();
        assert_eq!(
            digest,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(out, b"abc");
    }
}
