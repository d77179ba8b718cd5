//! The integration suite on a real kind cluster, where containers run: each broken
//! fixture whose failure needs a real container is caught in the phase it targets, fast,
//! with the reason the kubelet or the test's own output gives, and the good web chart
//! passes with real readiness probes and a real `helm test`.
//!
//! These need a Docker engine and a kind node image (`CHART_HARNESS_KIND_NODE_IMAGE`), so
//! they are ignored by a plain `cargo test`; ci/test.sh runs them with `--ignored` after
//! starting the engine and building the image (README, "Tests on kind"). They fail, never
//! pass, when either is missing.

mod testing;

use std::collections::BTreeSet;
use std::time::Duration;

use chart_harness::cluster::ProviderKind;
use chart_harness::plan::Suite;
use chart_harness::suites::{PhaseStatus, TrialOutcome};
use testing::{TempRepo, redact_after};

/// Fixture, and the phase it fails.
const BROKEN_ON_KIND: [(&str, &str); 7] = [
    ("crash-loop", "ready:Deployment/crash-loop-crash-loop"),
    (
        "missing-config-key",
        "ready:Deployment/missing-config-key-missing-config-key",
    ),
    (
        "image-never-pulled",
        "ready:Deployment/image-never-pulled-image-never-pulled",
    ),
    ("failing-job", "ready:Job/failing-job-failing-job"),
    (
        "unresolvable-registry",
        "ready:Deployment/unresolvable-registry-unresolvable-registry",
    ),
    ("never-ready", "ready:Deployment/never-ready-never-ready"),
    ("failing-helm-test", "helm-test"),
];

/// How long a fail-fast rule may take on kind, with room for a busy machine: the slowest
/// is CrashLoopBackOff, which needs three restarts and the kubelet's back-off between them.
const FAIL_FAST_BOUND: Duration = Duration::from_secs(100);

fn repo_with_fixture_images() -> TempRepo {
    let repo = TempRepo::new();
    repo.write_config(
        "check-version-increment: false\n\
         images:\n  - chart-harness.local/fixture-web:1\n  - chart-harness.local/fixture-busybox:1\n",
    );
    repo
}

/// The failed phases' problems, with the parts that differ between runs (the trial's
/// namespace, generated object names, uids, the kubelet's current back-off) replaced.
fn pinned(outcome: &TrialOutcome) -> String {
    let mut text = String::new();
    for phase in outcome.failed_phases() {
        for problem in &phase.problems {
            text.push_str(&format!("[{}] {problem}\n", phase.name));
        }
    }
    let chart = &outcome.id.chart;
    text.lines()
        // helm's status lines carry the time of the run.
        .filter(|line| {
            !["LAST DEPLOYED:", "Last Started:", "Last Completed:"]
                .iter()
                .any(|p| line.starts_with(p))
        })
        .map(|line| {
            let line = redact_after(line, &format!("{chart}-{}-", outcome.id.case), 5);
            let line = redact_after(&line, &format!("{chart}-{chart}-"), usize::MAX);
            let line = redact_after(&line, "back-off ", usize::MAX);
            // The machine's DNS resolver, in a failed lookup.
            let line = redact_resolver(&line);
            // The pod's uid follows its (redacted) namespace in the kubelet's messages.
            format!("{}\n", redact_after(&line, "[id](", usize::MAX))
        })
        .collect()
}

/// `lookup <host> on <resolver>:53:` names the machine's resolver; it becomes `[resolver]`.
fn redact_resolver(line: &str) -> String {
    let Some(at) = line.find(" on ") else {
        return line.to_string();
    };
    let after = at + " on ".len();
    match line[after..].find(":53:") {
        Some(end) if line[..at].contains("lookup ") => {
            format!("{}[resolver]{}", &line[..after], &line[after + end..])
        }
        _ => line.to_string(),
    }
}

#[test]
#[ignore = "needs Docker and a kind node image; ci/test.sh runs it with --ignored"]
fn pods_that_can_never_become_ready_fail_fast_on_kind_with_their_reason() {
    testing::require_kind();
    let repo = repo_with_fixture_images();
    for (name, _) in BROKEN_ON_KIND {
        repo.add_chart("broken", name);
    }
    let outcomes = repo.run_on(
        ProviderKind::Kind,
        &[Suite::Integration],
        BROKEN_ON_KIND.len(),
    );
    assert_eq!(outcomes.len(), BROKEN_ON_KIND.len());
    let mut report = String::new();
    for (name, phase) in BROKEN_ON_KIND {
        let outcome = outcomes.iter().find(|o| o.id.chart == name).unwrap();
        let failed: BTreeSet<String> = outcome
            .failed_phases()
            .map(|phase| phase.name.clone())
            .collect();
        assert_eq!(
            failed,
            BTreeSet::from([phase.to_string()]),
            "{}",
            outcome.failure_message()
        );
        let failed_phase = outcome.phases.iter().find(|p| p.name == phase).unwrap();
        report.push_str(&format!(
            "{name}: failed {phase} in {:.1} s\n",
            failed_phase.duration.as_secs_f64()
        ));
        if phase.starts_with("ready:") {
            assert!(
                failed_phase.duration < FAIL_FAST_BOUND,
                "{name} took {:?} to fail: {}",
                failed_phase.duration,
                outcome.failure_message()
            );
        }
        // Diagnostics come from the real cluster: events and container logs.
        assert!(
            outcome
                .phases
                .iter()
                .any(|p| p.name == "diagnostics" && p.status == PhaseStatus::Context),
            "{name}: no diagnostics: {}",
            outcome.failure_message()
        );
        insta::assert_snapshot!(format!("kind-{name}"), pinned(outcome));
    }
    // The time each fixture took to fail, for the closing note's figures.
    eprintln!("{report}");
    let failing_test = outcomes
        .iter()
        .find(|o| o.id.chart == "failing-helm-test")
        .unwrap();
    assert!(
        failing_test
            .failure_message()
            .contains("expected greeting not found"),
        "the failing test's own output is not in its report: {}",
        failing_test.failure_message()
    );
}

#[test]
#[ignore = "needs Docker and a kind node image; ci/test.sh runs it with --ignored"]
fn a_good_chart_really_runs_on_kind() {
    testing::require_kind();
    let repo = repo_with_fixture_images();
    repo.add_chart("charts", "web");
    let outcomes = repo.run_on(ProviderKind::Kind, &[Suite::Integration], 3);
    assert!(!outcomes.is_empty());
    for outcome in &outcomes {
        assert!(outcome.passed(), "{}", outcome.failure_message());
        // Real containers: the test hook's requests ran, and the chaos check (web's
        // ci/harness.yaml) killed a running pod that its Deployment replaced.
        for ran in ["helm-test", "chaos"] {
            assert!(
                outcome
                    .phases
                    .iter()
                    .any(|p| p.name == ran && p.status == PhaseStatus::Passed),
                "{ran} did not run and pass: {:?}",
                outcome.phases
            );
        }
    }
}

/// A team's own kind config (fixtures/ct-repo: three nodes, the ingress ports mapped to
/// 127.0.0.1) makes the cluster: every node joins, and Docker publishes the mapped ports
/// on loopback only. Also the start-up figure for a three-node cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Docker and a kind node image; ci/test.sh runs it with --ignored"]
async fn a_teams_own_kind_config_makes_the_cluster() {
    use chart_harness::cluster::{ClusterProvider, ClusterRequest, KindConfigChoice, KindProvider};
    use chart_harness::session::Session;
    use k8s_openapi::api::core::v1::Node;

    testing::require_kind();
    let repo = testing::workspace_root().join("fixtures/ct-repo");
    let session = Session::open(&repo).expect("the session opens");
    let kind = session
        .kind_binary()
        .unwrap()
        .expect("kind is installed (`chart-harness tools install kind`)");
    let provider = KindProvider {
        kind,
        docker: "docker".into(),
        config: KindConfigChoice::File(repo.join("kind-config.yaml")),
        kube_version: Some("1.37.2".into()),
        node_image: Some(session.kind_node_image("1.37.2").unwrap()),
        images: Vec::new(),
    };
    let started = std::time::Instant::now();
    let handle = provider
        .acquire(&ClusterRequest {
            name_prefix: "ch-test-team-kind".into(),
            nodes: 3,
            ready_timeout: Duration::from_secs(180),
        })
        .await
        .unwrap();
    eprintln!(
        "three-node kind cluster from the team's config ready in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let kube = chart_harness::k8s::Kube::connect(handle.kubeconfig(), handle.context())
        .await
        .unwrap();
    let nodes: kube::Api<Node> = kube::Api::all(kube.client());
    let nodes = nodes.list(&Default::default()).await.unwrap();
    assert_eq!(nodes.items.len(), 3, "{:?}", nodes.items);
    let control_plane = format!("{}-control-plane", handle.name());
    let ports = std::process::Command::new("docker")
        .args(["port", &control_plane])
        .output()
        .unwrap();
    let ports = String::from_utf8_lossy(&ports.stdout).to_string();
    for mapping in ["80/tcp -> 127.0.0.1:8080", "443/tcp -> 127.0.0.1:8443"] {
        assert!(ports.contains(mapping), "{mapping} missing from:\n{ports}");
    }
    for line in ports.lines() {
        assert!(
            line.contains("-> 127.0.0.1:"),
            "published beyond loopback: {line}"
        );
    }
    handle.teardown().await.unwrap();
}

/// The data steps of the kind upgrade test: a key written into the primary through
/// redis-cli (the password is in the container's environment), a note written from
/// stdin, a backup by a Job made from the chart's CronJob; both read back, and a host
/// command that proves its kubeconfig is the trial's namespace.
const KVSTORE_DATA: &str = r#"data:
  timeout: 90s
  seed:
    - name: write a key
      exec:
        pod: {app.kubernetes.io/component: server, apps.kubernetes.io/pod-index: "0"}
        container: redis
        command: [sh, -c, 'redis-cli -a "$KVSTORE_PASSWORD" --no-auth-warning SET greeting hello && redis-cli -a "$KVSTORE_PASSWORD" --no-auth-warning SAVE']
    - name: write a note from stdin
      exec:
        component: server
        command: [sh, -c, 'redis-cli -a "$KVSTORE_PASSWORD" --no-auth-warning -x SET note']
        stdin: from stdin
    - name: back up with the chart's own CronJob
      job: {from-cronjob: $RELEASE_NAME-backup}
      expect: {contains: dump-}
  verify:
    - name: read it back
      exec:
        pod: {app.kubernetes.io/component: server, apps.kubernetes.io/pod-index: "0"}
        command: [sh, -c, 'redis-cli -a "$KVSTORE_PASSWORD" --no-auth-warning GET greeting']
      expect: {equals: hello}
    - name: read the note
      exec:
        component: server
        command: [sh, -c, 'redis-cli -a "$KVSTORE_PASSWORD" --no-auth-warning GET note']
      expect: {equals: from stdin}
    - run: 'grep -q "\"namespace\":\"$NAMESPACE\"" "$KUBECONFIG" && echo "$RELEASE_NAME in $NAMESPACE"'
      expect: {matches: '^kvstore(-lossy)? in kvstore'}
"#;

/// kvstore 1.0.0 → 1.1.0 (a larger maxmemory, so its pods roll) with its data seeded and
/// verified across the upgrade and the rollback, on real pods; kvstore-lossy, whose 1.1.0
/// mounts an emptyDir where the data was: every pod is ready, and verify fails; and four
/// charts whose seed step is wrong, one message each. One kind cluster for all six.
#[test]
#[ignore = "needs Docker and a kind node image; ci/test.sh runs it with --ignored"]
fn kvstore_upgrades_with_its_data_on_kind() {
    testing::require_kind();
    let repo = TempRepo::new();
    repo.write_config(
        "check-version-increment: false\nbaseline: git:v1\n\
         images:\n  - chart-harness.local/fixture-kvstore:1\n  - chart-harness.local/fixture-busybox:1\n",
    );
    // Bad steps, each failing with its message: a selector no pod matches (retried until
    // its timeout), a host command that exits non-zero, a container the pod lacks and a
    // selector that matches two pods (each at once).
    let bad_steps = [
        (
            "kvstore-no-pod",
            "data:\n  seed:\n    - exec: {pod: {app: nothing}, command: [\"true\"]}\n      timeout: 6s\n",
        ),
        (
            "kvstore-failing-run",
            "data:\n  seed:\n    - run: 'echo partial; echo \"no such table\" >&2; exit 3'\n",
        ),
        (
            "kvstore-no-container",
            "data:\n  seed:\n    - exec: {component: server, container: nope, command: [\"true\"]}\n",
        ),
        (
            "kvstore-several-pods",
            "values: {replicas: 2}\ndata:\n  seed:\n    - exec: {component: server, command: [\"true\"]}\n",
        ),
    ];
    let all = [
        "kvstore",
        "kvstore-lossy",
        "kvstore-no-pod",
        "kvstore-failing-run",
        "kvstore-no-container",
        "kvstore-several-pods",
    ];
    for name in all {
        let dir = repo.add_chart_as("charts", "kvstore", name);
        for case in ["ha", "ephemeral"] {
            std::fs::remove_file(dir.join(format!("ci/{case}-values.yaml"))).unwrap();
        }
        let data = bad_steps
            .iter()
            .find(|(bad, _)| *bad == name)
            .map_or(KVSTORE_DATA, |(_, data)| *data);
        std::fs::write(dir.join("ci/harness.yaml"), data).unwrap();
        let chart_yaml = dir.join("Chart.yaml");
        let text = std::fs::read_to_string(&chart_yaml).unwrap();
        std::fs::write(
            &chart_yaml,
            text.replace("version: 0.4.1", "version: 1.0.0"),
        )
        .unwrap();
    }
    repo.git(&["init", "-q"]);
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-qm", "1.0.0"]);
    repo.git(&["tag", "v1"]);
    let charts = repo.root().join("fixtures/charts");
    let edit = |path: std::path::PathBuf, from: &str, to: &str| {
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{}: {from}", path.display());
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    };
    for name in all {
        edit(
            charts.join(name).join("Chart.yaml"),
            "version: 1.0.0",
            "version: 1.1.0",
        );
        edit(
            charts.join(name).join("values.yaml"),
            "maxmemory: 64mb",
            "maxmemory: 96mb",
        );
    }
    edit(
        charts.join("kvstore-lossy/templates/statefulset.yaml"),
        "            - name: data\n              mountPath: /data\n",
        "            - name: scratch\n              mountPath: /data\n",
    );
    edit(
        charts.join("kvstore-lossy/templates/statefulset.yaml"),
        "      volumes:\n",
        "      volumes:\n        - name: scratch\n          emptyDir: {}\n",
    );
    repo.git(&["commit", "-qam", "1.1.0"]);

    let outcomes = repo.run_on(ProviderKind::Kind, &[Suite::Upgrade], 2);
    assert_eq!(outcomes.len(), all.len());
    let find = |chart: &str| outcomes.iter().find(|o| o.id.chart == chart).unwrap();
    let good = find("kvstore");
    assert!(good.passed(), "{}", good.failure_message());
    let record = good.upgrade.as_ref().unwrap();
    assert!(record.data_checked, "{record:?}");
    assert_eq!(record.baselines[0].version, "1.0.0");
    testing::assert_phases_passed(
        good,
        &[
            "seed[0]",
            "seed[1]",
            "seed[2]",
            "verify-baseline[0]",
            "verify-baseline[1]",
            "verify-baseline[2]",
            "upgrade",
            "verify[0]",
            "rollout",
            "rollback",
            "verify-rollback[0]",
        ],
    );
    // The figures of the closing note: every phase and its time.
    eprintln!(
        "kvstore upgrade phases on kind: {}",
        testing::phase_timings(good)
    );

    for (name, _) in bad_steps {
        let outcome = find(name);
        let failed: Vec<&str> = outcome.failed_phases().map(|p| p.name.as_str()).collect();
        assert_eq!(failed, ["seed[0]"], "{}", outcome.failure_message());
        let said = outcome.failed_phases().next().unwrap().problems[0].to_string();
        insta::assert_snapshot!(
            format!("upgrade-{name}"),
            redact_after(&said, &format!("{name}-default-up-"), 5)
        );
    }

    let lossy = find("kvstore-lossy");
    let verify = lossy
        .phases
        .iter()
        .find(|p| p.name == "verify[0]")
        .unwrap_or_else(|| panic!("{:?}", lossy.phases));
    assert_eq!(verify.status, PhaseStatus::Failed);
    insta::assert_snapshot!("upgrade-kvstore-lossy", verify.problems[0].to_string());
    assert!(
        lossy
            .phases
            .iter()
            .any(|p| p.name.starts_with("ready:StatefulSet") && p.status == PhaseStatus::Passed),
        "every pod was ready: {:?}",
        lossy.phases
    );
}
