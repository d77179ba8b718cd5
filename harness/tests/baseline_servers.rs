//! The upgrade suite's published baselines against real servers: a chart repository
//! (`helm package` and `helm repo index` publish web 1.0.0, 1.1.0 and 1.3.0 into a
//! directory busybox httpd serves) and an OCI registry (Debian's docker-registry, where
//! `helm push` publishes the same three). testcontainers starts each server in a container
//! of its own for the test and removes it after; neither publishes a port, the host
//! reaches them on Docker's bridge.
//!
//! Needs a Docker engine and the fixture images (`ci/fixture-images.sh`), so it is ignored
//! by a plain `cargo test`; ci/test.sh runs it with `--ignored`.

mod testing;

use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use testcontainers::core::Mount;
use testcontainers::runners::AsyncRunner;
use testcontainers::{GenericImage, ImageExt};
use testing::TempRepo;

fn helm(args: &[&str], dir: &Path) {
    let helm = testing::workspace_root().join(".tools/bin/helm4");
    let output = Command::new(&helm)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "helm {args:?}: {}",
        testing::output_text(&output)
    );
}

/// Waits until the server accepts connections (both start in well under a second).
fn await_listening(ip: IpAddr, port: u16) {
    let started = Instant::now();
    while std::net::TcpStream::connect_timeout(&(ip, port).into(), Duration::from_secs(1)).is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the server at {ip}:{port} never answered"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// web packaged as each version into `dir`.
fn package_web(dir: &Path) {
    let web = testing::workspace_root().join("fixtures/charts/web");
    for version in ["1.0.0", "1.1.0", "1.3.0"] {
        helm(
            &[
                "package",
                web.to_str().unwrap(),
                "--version",
                version,
                "--destination",
                ".",
            ],
            dir,
        );
    }
}

fn upgrade(repo: &TempRepo, args: &[&str]) -> (std::process::Output, serde_json::Value) {
    let output = Command::new(env!("CARGO_BIN_EXE_chart-harness"))
        .args(["upgrade", "--predict-only"])
        .args(args)
        .current_dir(repo.root())
        .output()
        .unwrap();
    let report = std::fs::read_to_string(repo.root().join("report/report.json")).unwrap();
    (output, serde_json::from_str(&report).unwrap())
}

#[tokio::test]
#[ignore = "needs Docker and the fixture images; ci/test.sh runs it with --ignored"]
async fn a_repo_baseline_is_the_highest_published_version_below_the_candidate() {
    let served = tempfile::tempdir().unwrap();
    // httpd runs as nobody: the directory must be readable by all.
    std::fs::set_permissions(served.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let web = testing::workspace_root().join("fixtures/charts/web");
    for version in ["1.0.0", "1.1.0", "1.3.0"] {
        helm(
            &[
                "package",
                web.to_str().unwrap(),
                "--version",
                version,
                "--destination",
                ".",
            ],
            served.path(),
        );
    }
    helm(&["repo", "index", "."], served.path());
    let server = GenericImage::new("chart-harness.local/fixture-busybox", "1")
        .with_cmd(["httpd", "-f", "-p", "8080", "-h", "/srv"])
        .with_mount(Mount::bind_mount(served.path().to_str().unwrap(), "/srv"))
        // Named, so the container's address can be read (an engine may call its default
        // network "default", which it cannot inspect).
        .with_network("bridge")
        .start()
        .await
        .expect("the fixture-busybox image runs (ci/fixture-images.sh builds it)");
    let ip = server.get_bridge_ip_address().await.unwrap();
    await_listening(ip, 8080);
    let url = format!("http://{ip}:8080");

    // The candidate is web 1.2.0: the baseline is 1.1.0, not 1.3.0 above it.
    let repo = TempRepo::new();
    repo.write_config(&format!(
        "check-version-increment: false\nchart-repos:\n  - published={url}\n"
    ));
    repo.add_chart("charts", "web");
    repo.add_chart("charts", "api");
    repo.add_chart("charts", "common-lib");
    for baseline in [format!("repo:{url}"), "repo:published".to_string()] {
        let (output, report) = upgrade(&repo, &["--baseline", &baseline, "web"]);
        let text = testing::output_text(&output);
        assert_eq!(output.status.code(), Some(0), "{text}");
        let package = std::fs::read(served.path().join("web-1.1.0.tgz")).unwrap();
        for trial in report["trials"].as_array().unwrap() {
            let record = &trial["upgrade"]["baselines"][0];
            assert_eq!(record["spec"], baseline.as_str(), "{record}");
            assert_eq!(record["version"], "1.1.0", "{record}");
            assert_eq!(
                record["digest"],
                format!("sha256:{:x}", Sha256::digest(&package)),
                "the digest is the package's"
            );
            assert!(
                record["source"].as_str().unwrap().contains(&url),
                "{record}"
            );
            assert_eq!(trial["status"], "passed", "{trial}");
        }
    }

    // A chart the repository does not publish has nothing to upgrade from.
    let (output, report) = upgrade(&repo, &["--baseline", &format!("repo:{url}"), "api"]);
    let text = testing::output_text(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    for trial in report["trials"].as_array().unwrap() {
        assert_eq!(trial["status"], "not-run", "{trial}");
        assert!(
            trial["reason"]
                .as_str()
                .unwrap()
                .contains(&format!("{url} publishes no version of api below 2.0.3")),
            "{trial}"
        );
    }

    // A name chart-repos lacks is an error that names what it has.
    let (output, report) = upgrade(&repo, &["--baseline", "repo:stable", "web"]);
    let text = testing::output_text(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("no chart repository is named `stable` in `chart-repos` (it has: published)"),
        "{text}"
    );
    assert_eq!(report["trials"][0]["status"], "failed");
}

#[tokio::test]
#[ignore = "needs Docker and the fixture images; ci/test.sh runs it with --ignored"]
async fn an_oci_baseline_is_the_highest_tag_below_the_candidate() {
    let server = GenericImage::new("chart-harness.local/fixture-registry", "1")
        .with_network("bridge")
        .start()
        .await
        .expect("the fixture-registry image runs (ci/fixture-images.sh builds it)");
    let ip = server.get_bridge_ip_address().await.unwrap();
    await_listening(ip, 5000);
    let host = format!("{ip}:5000");
    let packages = tempfile::tempdir().unwrap();
    package_web(packages.path());
    for version in ["1.0.0", "1.1.0", "1.3.0"] {
        helm(
            &[
                "push",
                &format!("web-{version}.tgz"),
                &format!("oci://{host}/charts"),
                "--plain-http",
            ],
            packages.path(),
        );
    }
    let baseline = format!("oci://{host}/charts");

    let repo = TempRepo::new();
    repo.add_chart("charts", "web");
    repo.add_chart("charts", "api");
    repo.add_chart("charts", "common-lib");
    // Without the registry listed as plain HTTP, helm speaks TLS to it, and the error
    // says which key to set.
    repo.write_config("check-version-increment: false\n");
    let (output, _) = upgrade(&repo, &["--baseline", &baseline, "web"]);
    let text = testing::output_text(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "the registry serves plain HTTP: list `{host}` in `plain-http-registries` in the config"
        )),
        "{text}"
    );

    repo.write_config(&format!(
        "check-version-increment: false\nplain-http-registries: [\"{host}\"]\n"
    ));
    let (output, report) = upgrade(&repo, &["--baseline", &baseline, "web"]);
    let text = testing::output_text(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    let package = std::fs::read(packages.path().join("web-1.1.0.tgz")).unwrap();
    for trial in report["trials"].as_array().unwrap() {
        let record = &trial["upgrade"]["baselines"][0];
        assert_eq!(record["spec"], baseline.as_str(), "{record}");
        assert_eq!(record["version"], "1.1.0", "{record}");
        assert_eq!(
            record["digest"],
            format!("sha256:{:x}", Sha256::digest(&package)),
            "the digest is the pushed package's"
        );
        assert_eq!(trial["status"], "passed", "{trial}");
    }

    // Nothing of api was pushed: nothing to upgrade from.
    let (output, report) = upgrade(&repo, &["--baseline", &baseline, "api"]);
    let text = testing::output_text(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    for trial in report["trials"].as_array().unwrap() {
        assert_eq!(trial["status"], "not-run", "{trial}");
        assert!(
            trial["reason"].as_str().unwrap().contains(&format!(
                "oci://{host}/charts/api publishes no version of api below 2.0.3"
            )),
            "{trial}"
        );
    }
}
