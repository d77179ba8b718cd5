//! Every policy rule, declared once: its stable id (what suppressions, annotations, the
//! JSON report and SARIF name), severity, title, one-line fix and where docs/policy.md
//! explains it. The checks live in the modules named after their topic.

use crate::config::Severity;

/// One policy rule.
#[derive(Debug, PartialEq, Eq)]
pub struct Rule {
    /// Stable: renaming one breaks every suppression that names it.
    pub id: &'static str,
    pub severity: Severity,
    pub title: &'static str,
    /// What to change in the chart, in one line.
    pub fix: &'static str,
}

impl Rule {
    /// The rule's section in docs/policy.md, relative to the repository root.
    pub fn doc_anchor(&self) -> String {
        format!("{DOC}#{}", self.id)
    }
}

/// Where every rule is explained.
pub const DOC: &str = "docs/policy.md";

macro_rules! rules {
    ($($constant:ident = $id:literal, $severity:ident, $title:literal, $fix:literal;)*) => {
        $(pub const $constant: Rule = Rule {
            id: $id,
            severity: Severity::$severity,
            title: $title,
            fix: $fix,
        };)*

        /// Every rule, in the order docs/policy.md lists them.
        pub const ALL: &[&Rule] = &[$(&$constant,)*];
    };
}

rules! {
    IMAGE_TAG_LATEST = "image-tag-latest", Error,
        "Image has no tag or the tag `latest`",
        "set an explicit version tag (or a digest) on the image";
    IMAGE_NOT_PINNED_BY_DIGEST = "image-not-pinned-by-digest", Info,
        "Image is not pinned by digest",
        "append the image's digest (`repo:tag@sha256:...`) so the same bytes run everywhere";
    IMAGE_PULL_POLICY_CONFLICT = "image-pull-policy-conflict", Warning,
        "imagePullPolicy contradicts the image reference",
        "use `IfNotPresent` with a digest or a fixed tag, `Always` only with a moving tag";
    RESOURCE_REQUESTS_MISSING = "resource-requests-missing", Warning,
        "Container has no cpu or memory request",
        "set `resources.requests.cpu` and `resources.requests.memory`";
    MEMORY_LIMIT_MISSING = "memory-limit-missing", Warning,
        "Container has no memory limit",
        "set `resources.limits.memory`";
    CPU_LIMIT_MISSING = "cpu-limit-missing", Info,
        "Container has no cpu limit",
        "set `resources.limits.cpu`, or suppress the rule if you rely on cpu requests alone";
    READINESS_PROBE_MISSING = "readiness-probe-missing", Warning,
        "Container of a long-running workload has no readiness probe",
        "add a `readinessProbe` that answers only when the container can serve";
    LIVENESS_PROBE_MISSING = "liveness-probe-missing", Warning,
        "Container of a long-running workload has no liveness probe",
        "add a `livenessProbe` that fails only when a restart would help";
    PROBES_IDENTICAL = "readiness-equals-liveness", Warning,
        "Readiness and liveness probes are identical",
        "make the liveness probe more tolerant (another endpoint, a higher failureThreshold)";
    RUN_AS_NON_ROOT = "run-as-non-root", Warning,
        "Container may run as root",
        "set `securityContext.runAsNonRoot: true` on the pod or the container";
    ALLOW_PRIVILEGE_ESCALATION = "allow-privilege-escalation", Warning,
        "Container may gain privileges",
        "set `securityContext.allowPrivilegeEscalation: false` on the container";
    READ_ONLY_ROOT_FILESYSTEM = "read-only-root-filesystem", Warning,
        "Container's root filesystem is writable",
        "set `securityContext.readOnlyRootFilesystem: true` and mount an emptyDir where it writes";
    CAPABILITIES_DROP_ALL = "capabilities-drop-all", Warning,
        "Container does not drop all capabilities",
        "set `securityContext.capabilities.drop: [ALL]` and add back only what it needs";
    PRIVILEGED = "privileged", Error,
        "Container is privileged",
        "remove `securityContext.privileged: true`; add the one capability it needs instead";
    HOST_PATH_VOLUME = "host-path-volume", Error,
        "Pod mounts a hostPath volume",
        "use an emptyDir, a ConfigMap or a PersistentVolumeClaim instead of `hostPath`";
    HOST_NETWORK = "host-network", Error,
        "Pod uses the node's network namespace",
        "remove `hostNetwork: true`; expose the port with a Service";
    HOST_PID = "host-pid", Error,
        "Pod shares the node's process namespace",
        "remove `hostPID: true`";
    HOST_IPC = "host-ipc", Error,
        "Pod shares the node's IPC namespace",
        "remove `hostIPC: true`";
    RBAC_WILDCARD = "rbac-wildcard", Warning,
        "Role grants `*` verbs, resources or apiGroups",
        "list the verbs, resources and apiGroups the workload uses";
    RBAC_CLUSTER_ADMIN = "rbac-cluster-admin-binding", Error,
        "Binding grants cluster-admin, by name or by a full wildcard",
        "bind a Role with the permissions the workload uses instead of cluster-admin";
    RBAC_CLUSTER_SECRETS = "rbac-cluster-secrets-read", Warning,
        "ClusterRole reads Secrets in every namespace",
        "read Secrets through a Role in the release's namespace, or name them in `resourceNames`";
    RBAC_ROLE_WOULD_DO = "rbac-cluster-role-could-be-role", Info,
        "ClusterRole is used in one namespace only",
        "make it a Role (and its ClusterRoleBinding a RoleBinding) in the release's namespace";
    PDB_MISSING = "pod-disruption-budget-missing", Warning,
        "Replicated workload has no PodDisruptionBudget",
        "add a PodDisruptionBudget whose selector matches the pod labels (e.g. maxUnavailable: 1)";
    NETWORK_POLICY_MISSING = "network-policy-missing", Info,
        "Chart has workloads and no NetworkPolicy",
        "add a NetworkPolicy that admits only the traffic the chart's pods expect";
    API_REMOVED = "api-removed", Error,
        "API version is no longer served by a target Kubernetes version",
        "move the object to the replacement API the finding names";
    API_DEPRECATED = "api-deprecated", Warning,
        "API version is deprecated in a target Kubernetes version",
        "move the object to the replacement API before the release that removes it";
}

/// The rule with `id`, for suppressions and annotations that name one.
pub fn find(id: &str) -> Option<&'static Rule> {
    ALL.iter().copied().find(|rule| rule.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_kebab_case_and_documented() {
        let doc = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/policy.md"),
        )
        .unwrap();
        let mut ids: Vec<&str> = ALL.iter().map(|rule| rule.id).collect();
        for id in &ids {
            assert!(
                id.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{id} is not kebab-case"
            );
            assert!(
                doc.contains(&format!("### `{id}`")),
                "docs/policy.md has no section `### `{id}``"
            );
        }
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), ALL.len(), "two rules share an id");
        assert_eq!(find("privileged"), Some(&PRIVILEGED));
    }
}
