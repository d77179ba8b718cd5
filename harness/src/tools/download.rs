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

/// Downloads `location`, checks it against the sha256 published at `checksum_url`, and
/// writes the binary to `dest` (mode 0755). `scratch` holds the download and is the
/// caller's to delete; on any error `dest` is not created.
pub(crate) fn fetch_verified_binary(
    location: &ReleaseLocation,
    checksum_url: &str,
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

    let checksum_text = get(&agent, checksum_url)?
        .into_body()
        .read_to_string()
        .map_err(|e| download_error(checksum_url, e))?;
    let expected =
        digest_for(&checksum_text, file_name).map_err(|problem| ToolError::Download {
            url: checksum_url.to_string(),
            message: problem.to_string(),
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
            checksum_url: checksum_url.to_string(),
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

/// Why a checksum file gave no digest for the asset.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ChecksumProblem {
    #[error(
        "it is not a sha256 checksum file (neither a bare digest nor `<digest>  <file>` lines); check checksum-file under the tool's release in ci/tools.toml"
    )]
    NoDigest,
    #[error("it lists sha256 digests for {} but not for {file_name}; check file under the tool's release in ci/tools.toml", listed.join(", "))]
    NotListed {
        file_name: String,
        listed: Vec<String>,
    },
    #[error(
        "it holds {count} digests naming no file, so none is known to be {file_name}'s; check checksum-file under the tool's release in ci/tools.toml"
    )]
    Unnamed { file_name: String, count: usize },
}

/// One line of a checksum file.
enum ChecksumLine<'a> {
    /// Only a digest: Kubernetes' `<binary>.sha256`, which names no file.
    Bare(&'a str),
    /// `<digest>  <file>` (or `<digest> *<file>`, binary mode) as `sha256sum` and
    /// `shasum -a 256` print it: kind's and helm's `.sha256sum`, etcd's `SHA256SUMS`.
    Named(&'a str, &'a str),
}

impl<'a> ChecksumLine<'a> {
    fn parse(line: &'a str) -> Option<Self> {
        let is_digest = |s: &str| s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit());
        let mut parts = line.split_whitespace();
        let digest = parts.next().filter(|d| is_digest(d))?;
        match (parts.next(), parts.next()) {
            (None, _) => Some(ChecksumLine::Bare(digest)),
            (Some(name), None) => {
                let name = name.trim_start_matches('*');
                Some(ChecksumLine::Named(
                    digest,
                    name.strip_prefix("./").unwrap_or(name),
                ))
            }
            // File names with spaces are not release assets.
            (Some(_), Some(_)) => None,
        }
    }
}

/// The sha256 of `file_name` from a checksum file: a lone bare digest, or the line
/// naming `file_name` among any number of named lines. Lowercase hex.
pub(crate) fn digest_for(text: &str, file_name: &str) -> Result<String, ChecksumProblem> {
    let lines: Vec<ChecksumLine> = text.lines().filter_map(ChecksumLine::parse).collect();
    let digest = match lines.as_slice() {
        [] => return Err(ChecksumProblem::NoDigest),
        [ChecksumLine::Bare(digest)] => digest,
        lines
            if lines
                .iter()
                .all(|line| matches!(line, ChecksumLine::Bare(_))) =>
        {
            return Err(ChecksumProblem::Unnamed {
                file_name: file_name.to_string(),
                count: lines.len(),
            });
        }
        lines => lines
            .iter()
            .find_map(|line| match line {
                ChecksumLine::Named(digest, name) if *name == file_name => Some(digest),
                _ => None,
            })
            .ok_or_else(|| ChecksumProblem::NotListed {
                file_name: file_name.to_string(),
                listed: lines
                    .iter()
                    .filter_map(|line| match line {
                        ChecksumLine::Named(_, name) => Some(name.to_string()),
                        ChecksumLine::Bare(_) => None,
                    })
                    .collect(),
            })?,
    };
    Ok(digest.to_ascii_lowercase())
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
    #[case::kubernetes_bare_digest(format!("{DIGEST}\n"), DIGEST)]
    #[case::bare_digest_without_newline(DIGEST.to_string(), DIGEST)]
    #[case::kind_sha256sum_line(format!("{DIGEST}  etcd.tar.gz\n"), DIGEST)]
    #[case::binary_mode_marker(format!("{DIGEST} *etcd.tar.gz\n"), DIGEST)]
    #[case::dot_slash_path(format!("{DIGEST}  ./etcd.tar.gz\n"), DIGEST)]
    #[case::etcd_sha256sums_picks_the_asset(
        format!("{OTHER}  etcd.zip\n{DIGEST}  etcd.tar.gz\n{OTHER}  etcd-arm64.tar.gz\n"),
        DIGEST
    )]
    #[case::uppercase(format!("{}\n", DIGEST.to_uppercase()), DIGEST)]
    #[case::crlf_and_blank_lines(format!("\r\n{DIGEST}  etcd.tar.gz\r\n\r\n"), DIGEST)]
    fn checksum_files_yield_the_digest_of_the_asset(#[case] text: String, #[case] expected: &str) {
        assert_eq!(digest_for(&text, "etcd.tar.gz"), Ok(expected.to_string()));
    }

    #[rstest]
    #[case::only_other_files(format!("{OTHER}  etcd.zip\n"), vec!["etcd.zip"])]
    #[case::a_prefix_of_the_name_is_not_the_name(format!("{OTHER}  etcd.tar\n"), vec!["etcd.tar"])]
    fn an_asset_missing_from_the_list_names_what_is_listed(
        #[case] text: String,
        #[case] listed: Vec<&str>,
    ) {
        let problem = digest_for(&text, "etcd.tar.gz").unwrap_err();
        assert_eq!(
            problem,
            ChecksumProblem::NotListed {
                file_name: "etcd.tar.gz".into(),
                listed: listed.iter().map(|n| n.to_string()).collect(),
            }
        );
        assert!(
            problem.to_string().contains("not for etcd.tar.gz"),
            "{problem}"
        );
    }

    #[test]
    fn several_bare_digests_name_no_file() {
        let problem = digest_for(&format!("{DIGEST}\n{OTHER}\n"), "etcd.tar.gz").unwrap_err();
        assert_eq!(
            problem,
            ChecksumProblem::Unnamed {
                file_name: "etcd.tar.gz".into(),
                count: 2
            }
        );
    }

    #[rstest]
    #[case::a_404_page("404 page not found\n".to_string())]
    #[case::empty(String::new())]
    #[case::short_hex("abc123  etcd.tar.gz\n".to_string())]
    #[case::sha512_length(format!("{DIGEST}{DIGEST}  etcd.tar.gz\n"))]
    fn text_without_a_sha256_is_not_a_checksum_file(#[case] text: String) {
        assert_eq!(
            digest_for(&text, "etcd.tar.gz"),
            Err(ChecksumProblem::NoDigest)
        );
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
