//! Image references: a version that can move under the release, a reference not pinned by
//! digest, and a pull policy that contradicts the reference.

use serde_json::Value;

use super::finding::Finding;
use super::rules;
use super::workloads::workloads;
use crate::manifest::Manifest;

pub fn check(manifests: &[Manifest]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for workload in workloads(manifests) {
        for container in workload.containers() {
            let Some(image) = container.field("/image").and_then(Value::as_str) else {
                continue;
            };
            let reference = Reference::parse(image);
            let who = container.describe();
            if reference.moving() {
                let tag = match reference.tag {
                    Some(tag) => format!("the tag `{tag}`"),
                    None => "no tag (helm and the kubelet read it as `latest`)".to_string(),
                };
                findings.push(Finding::on(
                    &rules::IMAGE_TAG_LATEST,
                    workload.manifest,
                    format!("{who} runs image `{image}` with {tag}"),
                ));
            }
            // A moving reference has its error already; a digest is the next step after a tag.
            if !reference.digest && !reference.moving() {
                findings.push(Finding::on(
                    &rules::IMAGE_NOT_PINNED_BY_DIGEST,
                    workload.manifest,
                    format!("{who} runs image `{image}`, which has no digest"),
                ));
            }
            let policy = container.field("/imagePullPolicy").and_then(Value::as_str);
            let conflict = match policy {
                Some("Always") if reference.digest => Some(
                    "a digest never changes, so pulling it `Always` only adds a registry round trip at every start",
                ),
                Some(never @ ("IfNotPresent" | "Never")) if reference.moving() => {
                    Some(if never == "Never" {
                        "a moving tag is never pulled again, so each node runs whatever it first had"
                    } else {
                        "a moving tag is pulled only where absent, so nodes run different images"
                    })
                }
                _ => None,
            };
            if let (Some(policy), Some(why)) = (policy, conflict) {
                findings.push(Finding::on(
                    &rules::IMAGE_PULL_POLICY_CONFLICT,
                    workload.manifest,
                    format!("{who} has `imagePullPolicy: {policy}` with image `{image}`: {why}"),
                ));
            }
        }
    }
    findings
}

/// What matters of an image reference: its tag and whether it has a digest.
#[derive(Debug, PartialEq, Eq)]
struct Reference<'a> {
    tag: Option<&'a str>,
    digest: bool,
}

impl<'a> Reference<'a> {
    fn parse(image: &'a str) -> Reference<'a> {
        let (name, digest) = match image.split_once('@') {
            Some((name, _)) => (name, true),
            None => (image, false),
        };
        // A `:` before the last `/` is a registry port (`registry:5000/app`), not a tag.
        let last = name.rsplit('/').next().unwrap_or(name);
        Reference {
            tag: last.split_once(':').map(|(_, tag)| tag),
            digest,
        }
    }

    /// The reference names no fixed image: no digest, and no tag or `latest`.
    fn moving(&self) -> bool {
        !self.digest && self.tag.is_none_or(|tag| tag == "latest")
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;
    use serde_json::json;

    use super::*;

    const DIGEST: &str = "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn rules_broken(image: &str, policy: Option<&str>) -> Vec<String> {
        let mut container = json!({"name": "app", "image": image});
        if let Some(policy) = policy {
            container["imagePullPolicy"] = json!(policy);
        }
        let manifests = [Manifest {
            source: Some("templates/pod.yaml".into()),
            value: json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [container]}}),
        }];
        check(&manifests).into_iter().map(|f| f.rule).collect()
    }

    #[rstest]
    #[case::tagged("nginx:1.27", None, &["image-not-pinned-by-digest"])]
    #[case::no_tag("nginx", None, &["image-tag-latest"])]
    #[case::latest("nginx:latest", None, &["image-tag-latest"])]
    #[case::registry_port_is_no_tag("registry:5000/nginx", None, &["image-tag-latest"])]
    #[case::registry_port_and_tag("registry:5000/nginx:1.27", None, &["image-not-pinned-by-digest"])]
    #[case::digest("nginx:1.27", Some("IfNotPresent"), &["image-not-pinned-by-digest"])]
    #[case::always_with_digest("nginx:1.27@digest", Some("Always"), &["image-pull-policy-conflict"])]
    #[case::digest_without_tag("nginx@digest", None, &[])]
    #[case::if_not_present_with_latest("nginx:latest", Some("IfNotPresent"), &["image-tag-latest", "image-pull-policy-conflict"])]
    #[case::never_without_tag("nginx", Some("Never"), &["image-tag-latest", "image-pull-policy-conflict"])]
    #[case::always_with_latest("nginx:latest", Some("Always"), &["image-tag-latest"])]
    fn image_references_break_the_rules_they_should(
        #[case] image: &str,
        #[case] policy: Option<&str>,
        #[case] expected: &[&str],
    ) {
        let image = image.replace("@digest", DIGEST);
        assert_eq!(rules_broken(&image, policy), expected);
    }
}
