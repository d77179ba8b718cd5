//! The Docker images a kind cluster needs: whether one is in the local Docker
//! (`docker image inspect`), pulling one that is not, and loading the repository's own
//! images (`images:`) into a kind cluster. Every call is bounded, like every process
//! here.
//!
//! kind pulls a missing node image itself, but its failure is a page of kind output per
//! trial; checking first gives one message that says what to do.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use crate::tools::process::{self, ProcessSpec};

/// `docker image inspect` answers from the local image store.
const INSPECT_TIMEOUT: Duration = Duration::from_secs(30);
/// A node image is about 1 GB; a slow registry still finishes within this.
pub const PULL_TIMEOUT: Duration = Duration::from_secs(600);
/// `kind load docker-image` copies an image into every node.
const LOAD_TIMEOUT: Duration = Duration::from_secs(600);

/// An image reference as docker takes it on a command line: not empty, no whitespace,
/// and not starting with `-`, which docker would read as an option.
pub fn check_reference(image: &str) -> Result<(), String> {
    if image.is_empty() {
        return Err("it is empty; write an image reference like myapp:dev".to_string());
    }
    if image.starts_with('-') {
        return Err("it starts with `-`; an image reference looks like myapp:dev".to_string());
    }
    if let Some(bad) = image
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "._-:/@".contains(*c)))
    {
        return Err(format!(
            "it has the character {bad:?}; an image reference is letters, digits and . _ - : / @, like registry.example/team/app:1.2"
        ));
    }
    Ok(())
}

/// What the local Docker says of an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageState {
    Present,
    Absent,
    /// Docker could not answer (no daemon, a timeout); the short reason.
    Unknown(String),
}

/// Whether `image` is in the local Docker.
pub async fn image_state(docker: &Path, image: &str) -> ImageState {
    let spec = ProcessSpec::new(docker, INSPECT_TIMEOUT).args(inspect_args(image));
    match process::run(&spec).await {
        Ok(output) if output.success() => ImageState::Present,
        Ok(output) if output.stderr.to_ascii_lowercase().contains("no such image") => {
            ImageState::Absent
        }
        Ok(output) => ImageState::Unknown(short_reason(&output.stderr)),
        Err(error) => ImageState::Unknown(short_reason(&error.to_string())),
    }
}

/// Pulls `image`; on failure, docker's reason in one short line.
pub async fn pull(docker: &Path, image: &str, timeout: Duration) -> Result<(), String> {
    let spec = ProcessSpec::new(docker, timeout).args(["pull", image]);
    match process::run(&spec).await {
        Ok(output) if output.success() => Ok(()),
        Ok(output) => Err(short_reason(&output.stderr)),
        Err(error) => Err(short_reason(&error.to_string())),
    }
}

/// How an image came to be present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Availability {
    Present,
    Pulled,
}

/// `image` is present afterwards, or the reason it is not: absent and the pull failed.
pub async fn ensure_present(
    docker: &Path,
    image: &str,
    pull_timeout: Duration,
) -> Result<Availability, String> {
    match image_state(docker, image).await {
        ImageState::Present => Ok(Availability::Present),
        // Unknown too: a pull says best whether Docker works at all.
        ImageState::Absent | ImageState::Unknown(_) => pull(docker, image, pull_timeout)
            .await
            .map(|()| Availability::Pulled),
    }
}

/// docker's reason in one line: the last line of its error output that says anything,
/// without the `Error response from daemon: ` every daemon error starts with, and cut
/// at 300 characters so a message stays readable.
pub fn short_reason(stderr: &str) -> String {
    let line = stderr
        .lines()
        .map(str::trim)
        .rfind(|line| !line.is_empty())
        .unwrap_or("docker said nothing");
    let line = line
        .strip_prefix("Error response from daemon: ")
        .unwrap_or(line);
    match line.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_string(),
    }
}

fn inspect_args(image: &str) -> [&str; 5] {
    ["image", "inspect", "--format", "{{.Id}}", image]
}

/// The argv of `kind load docker-image` for one of the repository's images, kept apart
/// from running it so it can be checked without Docker.
pub fn load_args(image: &str, cluster: &str) -> Vec<OsString> {
    vec![
        "load".into(),
        "docker-image".into(),
        image.into(),
        "--name".into(),
        cluster.into(),
    ]
}

/// Why one of the repository's images could not be loaded into the kind cluster.
#[derive(Debug, PartialEq, Eq)]
pub enum LoadFailure {
    /// Not in the local Docker: it must be built first.
    NotBuilt {
        image: String,
        reason: String,
    },
    Failed {
        image: String,
        reason: String,
    },
}

/// Loads each of `images` into kind cluster `cluster`, in order; stops at the first
/// that is not in the local Docker or fails to load.
pub async fn load_images(
    docker: &Path,
    kind: &Path,
    cluster: &str,
    images: &[String],
) -> Result<(), LoadFailure> {
    for image in images {
        match image_state(docker, image).await {
            ImageState::Present => {}
            ImageState::Absent => {
                return Err(LoadFailure::NotBuilt {
                    image: image.clone(),
                    reason: "no such image".to_string(),
                });
            }
            ImageState::Unknown(reason) => {
                return Err(LoadFailure::NotBuilt {
                    image: image.clone(),
                    reason,
                });
            }
        }
        let spec = ProcessSpec::new(kind, LOAD_TIMEOUT).args(load_args(image, cluster));
        match process::run(&spec).await {
            Ok(output) if output.success() => {}
            Ok(output) => {
                return Err(LoadFailure::Failed {
                    image: image.clone(),
                    reason: short_reason(&output.stderr),
                });
            }
            Err(error) => {
                return Err(LoadFailure::Failed {
                    image: image.clone(),
                    reason: short_reason(&error.to_string()),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("myapp:dev")]
    #[case("registry.example/x:1.2")]
    #[case("chart-harness.local/kind-node:v1.37.2-abc")]
    #[case(
        "kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5"
    )]
    #[case("localhost:5000/team/app_x:Dev-1")]
    fn image_references_are_accepted(#[case] image: &str) {
        assert_eq!(check_reference(image), Ok(()));
    }

    #[rstest]
    #[case("", "empty")]
    #[case("--rm", "starts with `-`")]
    #[case("my app:dev", "' '")]
    #[case("app:$(id)", "'$'")]
    fn bad_image_references_say_why(#[case] image: &str, #[case] expected: &str) {
        let message = check_reference(image).unwrap_err();
        assert!(message.contains(expected), "{message}");
    }

    #[rstest]
    #[case(
        "Error response from daemon: Get \"https://chart-harness.local/v2/\": dial tcp: lookup chart-harness.local: no such host\n",
        "Get \"https://chart-harness.local/v2/\": dial tcp: lookup chart-harness.local: no such host"
    )]
    #[case(
        "Using default tag: latest\n\nerror pulling: denied\n  \n",
        "error pulling: denied"
    )]
    #[case("", "docker said nothing")]
    fn docker_reasons_are_one_short_line(#[case] stderr: &str, #[case] expected: &str) {
        assert_eq!(short_reason(stderr), expected);
    }

    #[test]
    fn long_reasons_are_cut() {
        let reason = short_reason(&"x".repeat(1000));
        assert_eq!(reason.chars().count(), 301);
        assert!(reason.ends_with('…'));
    }

    #[test]
    fn load_argv_names_image_and_cluster() {
        let args: Vec<String> = load_args("registry.example/x:1.2", "ch-1-abc")
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "load",
                "docker-image",
                "registry.example/x:1.2",
                "--name",
                "ch-1-abc"
            ]
        );
    }

    /// Real Docker where there is one: an image that certainly is absent is reported
    /// absent (or Docker unknown, where there is none), and its pull fails quickly
    /// with docker's reason. Nothing is pulled: the registry name does not resolve.
    #[tokio::test]
    async fn an_absent_image_is_absent_and_its_pull_fails_with_a_reason() {
        let docker = Path::new("docker");
        let image = "chart-harness.local/absent:1";
        let state = image_state(docker, image).await;
        assert!(
            matches!(state, ImageState::Absent | ImageState::Unknown(_)),
            "{state:?}"
        );
        let reason = ensure_present(docker, image, Duration::from_secs(60))
            .await
            .unwrap_err();
        assert!(!reason.is_empty() && !reason.contains('\n'), "{reason}");
    }

    #[tokio::test]
    async fn an_image_that_is_not_built_is_not_loaded() {
        let failure = load_images(
            Path::new("docker"),
            Path::new("/nonexistent/kind"),
            "ch-1-abc",
            &["chart-harness.local/absent:1".to_string()],
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&failure, LoadFailure::NotBuilt { image, .. } if image == "chart-harness.local/absent:1"),
            "{failure:?}"
        );
    }

    #[tokio::test]
    async fn without_docker_the_state_is_unknown_with_a_reason() {
        let state = image_state(Path::new("/nonexistent/docker"), "myapp:dev").await;
        let ImageState::Unknown(reason) = state else {
            panic!("{state:?}");
        };
        assert!(reason.contains("/nonexistent/docker"), "{reason}");
    }
}
