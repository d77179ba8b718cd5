//! Which kind node image a kind cluster runs: one named by the user (`--kind-node-image`,
//! `CHART_HARNESS_KIND_NODE_IMAGE`, `kind-node-image:` in the config, in that order),
//! else the built-in `kind-configs/node-images.yaml` entry for the Kubernetes minor.
//!
//! A named image is used exactly as given: a node image built on this machine has a
//! local tag and no registry digest, and is never pulled when present.

use std::fmt;
use std::path::{Path, PathBuf};

use super::ClusterError;
use super::kind::{KIND_CONFIG_DIR, NODE_IMAGES_FILE, NodeImages};

/// The environment variable that names the kind node image.
pub const NODE_IMAGE_ENV: &str = "CHART_HARNESS_KIND_NODE_IMAGE";

/// Where the node image came from, for the cluster's description and messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeImageSource {
    Flag,
    Env,
    /// `kind-node-image:` in this file.
    Config(Option<PathBuf>),
    /// `kind-configs/node-images.yaml`, for this Kubernetes version.
    BuiltIn(String),
}

impl fmt::Display for NodeImageSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeImageSource::Flag => f.write_str("from --kind-node-image"),
            NodeImageSource::Env => write!(f, "from {NODE_IMAGE_ENV}"),
            NodeImageSource::Config(Some(file)) => {
                write!(f, "from `kind-node-image` in {}", file.display())
            }
            NodeImageSource::Config(None) => f.write_str("from `kind-node-image`"),
            NodeImageSource::BuiltIn(version) => write!(
                f,
                "built in for Kubernetes {version} by {KIND_CONFIG_DIR}/{NODE_IMAGES_FILE}"
            ),
        }
    }
}

/// The node image a kind cluster runs, and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeImage {
    pub image: String,
    pub source: NodeImageSource,
}

impl NodeImage {
    /// `kindest/node:v1.37.0@sha256:… (built in for Kubernetes 1.37.2 (…))`.
    pub fn describe(&self) -> String {
        format!("{} ({})", self.image, self.source)
    }

    /// Whether a person named this image (rather than the built-in map choosing it).
    pub fn named(&self) -> bool {
        !matches!(self.source, NodeImageSource::BuiltIn(_))
    }
}

/// The node image: `flag`, else `env` (blank counts as unset), else `config` (with the
/// file it was read from), else the built-in map's image for `kube_version`.
pub fn choose(
    flag: Option<&str>,
    env: Option<&str>,
    config: Option<(&str, Option<&Path>)>,
    kube_version: &str,
) -> Result<NodeImage, ClusterError> {
    if let Some(image) = named(flag) {
        return checked(image, NodeImageSource::Flag);
    }
    if let Some(image) = named(env) {
        return checked(image, NodeImageSource::Env);
    }
    if let Some((image, file)) = config
        && let Some(image) = named(Some(image))
    {
        return checked(image, NodeImageSource::Config(file.map(Path::to_path_buf)));
    }
    built_in(kube_version)
}

fn checked(image: &str, source: NodeImageSource) -> Result<NodeImage, ClusterError> {
    super::docker::check_reference(image).map_err(|message| ClusterError::BadImage {
        image: image.to_string(),
        origin: source.to_string(),
        message,
    })?;
    Ok(NodeImage {
        image: image.to_string(),
        source,
    })
}

/// A value that names something: set and not blank.
fn named(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// The built-in map's image for `kube_version`'s minor.
pub fn built_in(kube_version: &str) -> Result<NodeImage, ClusterError> {
    let images = NodeImages::built_in()?;
    match images.image_for(kube_version) {
        Some(image) => Ok(NodeImage {
            image: image.to_string(),
            source: NodeImageSource::BuiltIn(kube_version.to_string()),
        }),
        None => Err(ClusterError::KindConfig {
            path: Path::new(KIND_CONFIG_DIR).join(NODE_IMAGES_FILE),
            message: format!(
                "has no node image for Kubernetes {kube_version}; it maps {} (or name an image with --kind-node-image or {NODE_IMAGE_ENV})",
                images.images.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const LOCAL: &str = "chart-harness.local/kind-node:v1.37.2-abc123";

    #[rstest]
    #[case::flag_wins(
        Some("flag:1"),
        Some("env:1"),
        Some("cfg:1"),
        "flag:1",
        NodeImageSource::Flag
    )]
    #[case::env_next(None, Some("env:1"), Some("cfg:1"), "env:1", NodeImageSource::Env)]
    #[case::blank_env_is_unset(
        None,
        Some("  "),
        Some("cfg:1"),
        "cfg:1",
        NodeImageSource::Config(Some(PathBuf::from("chart-harness.yaml")))
    )]
    #[case::config_then(
        Some(""),
        None,
        Some("cfg:1"),
        "cfg:1",
        NodeImageSource::Config(Some(PathBuf::from("chart-harness.yaml")))
    )]
    #[case::local_tag_kept(Some(LOCAL), None, None, LOCAL, NodeImageSource::Flag)]
    fn flag_beats_env_beats_config(
        #[case] flag: Option<&str>,
        #[case] env: Option<&str>,
        #[case] config: Option<&str>,
        #[case] image: &str,
        #[case] source: NodeImageSource,
    ) {
        let file = Path::new("chart-harness.yaml");
        let chosen = choose(flag, env, config.map(|c| (c, Some(file))), "1.37.2").unwrap();
        assert_eq!(chosen.image, image);
        assert_eq!(chosen.source, source);
        assert!(chosen.named());
    }

    #[test]
    fn without_a_name_the_built_in_map_picks_by_minor() {
        let chosen = choose(None, None, None, "1.37.2").unwrap();
        assert!(
            chosen.image.starts_with("kindest/node:v1.37."),
            "{}",
            chosen.image
        );
        assert!(!chosen.named());
        let described = chosen.describe();
        assert!(
            described.contains("built in for Kubernetes 1.37.2"),
            "{described}"
        );
        assert!(described.contains("node-images.yaml"), "{described}");
    }

    #[test]
    fn an_unmapped_version_names_the_map_and_the_way_out() {
        let message = choose(None, None, None, "1.20").unwrap_err().to_string();
        assert!(
            message.contains("no node image for Kubernetes 1.20"),
            "{message}"
        );
        assert!(message.contains(NODE_IMAGE_ENV), "{message}");
    }

    #[test]
    fn a_malformed_name_says_where_it_came_from() {
        let message = choose(None, Some("-rm"), None, "1.37")
            .unwrap_err()
            .to_string();
        assert!(message.contains("`-rm`"), "{message}");
        assert!(message.contains(NODE_IMAGE_ENV), "{message}");
    }

    #[test]
    fn the_description_names_image_and_source() {
        let image = NodeImage {
            image: LOCAL.to_string(),
            source: NodeImageSource::Env,
        };
        assert_eq!(image.describe(), format!("{LOCAL} (from {NODE_IMAGE_ENV})"));
    }
}
