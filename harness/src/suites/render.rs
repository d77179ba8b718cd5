//! Render-and-parse, the step every suite that looks at a chart's manifests shares:
//! one case of one chart rendered with `helm template` for one Kubernetes version and
//! namespace, then parsed into [`Manifest`]s. A render helm refuses is one problem that
//! names the template file and line helm names.
//!
//! The template suite renders through the run's [`RenderCache`], so a later suite that
//! needs the same chart × case × Kubernetes version (policy) can take those manifests
//! instead of rendering again. A render into a trial's own namespace (integration's
//! dry-run) is never shared and so never cached.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::OnceCell;

use super::{SuiteContext, TrialInputs};
use crate::discovery::Chart;
use crate::manifest::{self, Manifest};
use crate::plan::{Suite, Trial};
use crate::problem::Problem;
use crate::tools::RenderRequest;

/// What to render a trial's case for.
#[derive(Clone, Copy, Debug)]
pub struct RenderTarget<'a> {
    pub namespace: &'a str,
    /// Kubernetes version to render against, e.g. `1.37.2`.
    pub kube_version: &'a str,
    /// Extra helm arguments, e.g. `--include-crds`.
    pub extra_args: &'a [String],
    pub timeout: Duration,
}

impl TrialInputs {
    /// The helm request for this trial's chart and case: the release is named after the
    /// chart, and the values files are the case's. The one place a `RenderRequest` is
    /// built, for `helm template` and `helm lint` alike.
    pub fn render_request<'a>(
        &'a self,
        trial: &'a Trial,
        target: &RenderTarget<'a>,
    ) -> RenderRequest<'a> {
        RenderRequest {
            chart_dir: &self.chart_dir,
            release: &trial.chart.name,
            namespace: target.namespace,
            values_files: &self.values.files,
            kube_version: Some(target.kube_version),
            extra_args: target.extra_args,
            timeout: target.timeout,
        }
    }
}

/// A case rendered and parsed.
#[derive(Clone, Debug)]
pub struct Rendered {
    /// Every document helm rendered, in order, with the template it came from.
    pub manifests: Vec<Manifest>,
    /// Documents that are not valid YAML, each naming its template.
    pub problems: Vec<Problem>,
}

/// Renders and parses the trial's case for `target`, every time it is asked.
pub async fn render(
    ctx: &SuiteContext,
    trial: &Trial,
    inputs: &TrialInputs,
    target: &RenderTarget<'_>,
) -> Result<Rendered, Problem> {
    render_request(ctx, &trial.chart, &inputs.render_request(trial, target)).await
}

/// Renders and parses `request` (for the trial's chart or another revision of it);
/// problems name the template in `chart`'s directory.
pub async fn render_request(
    ctx: &SuiteContext,
    chart: &Chart,
    request: &RenderRequest<'_>,
) -> Result<Rendered, Problem> {
    let rendered = match ctx.tools.helm.template(request).await {
        Ok(Ok(rendered)) => rendered,
        Ok(Err(failure)) => {
            let problem = match &failure.template {
                Some(template) => Problem::in_file(chart.rel_dir.join(template), failure.message)
                    .at_line(failure.line),
                None => Problem::in_file(&chart.rel_dir, failure.message),
            };
            return Err(problem);
        }
        Err(error) => return Err(Problem::new(error.to_string())),
    };
    let (manifests, problems) = manifest::parse(&rendered, &chart.rel_dir);
    Ok(Rendered {
        manifests,
        problems,
    })
}

/// Like [`render`], but through the run's [`RenderCache`]: when the run keeps renders,
/// the first trial to ask renders and every later one with the same chart, case,
/// Kubernetes version, namespace and arguments gets the same result, even while the
/// first is still rendering.
pub async fn render_shared(
    ctx: &SuiteContext,
    trial: &Trial,
    inputs: &TrialInputs,
    target: &RenderTarget<'_>,
) -> Result<Arc<Rendered>, Problem> {
    let cache = &ctx.shared.renders;
    if !cache.keep {
        return render(ctx, trial, inputs, target).await.map(Arc::new);
    }
    let key = RenderKey {
        chart_dir: trial.chart.dir.clone(),
        case: trial.case.name.clone(),
        kube_version: target.kube_version.to_string(),
        namespace: target.namespace.to_string(),
        extra_args: target.extra_args.to_vec(),
    };
    let cell = Arc::clone(
        cache
            .entries
            .lock()
            .expect("no render panics while holding the cache lock")
            .entry(key)
            .or_default(),
    );
    cell.get_or_init(|| async { render(ctx, trial, inputs, target).await.map(Arc::new) })
        .await
        .clone()
}

/// Rendered cases of the run, by chart × case × Kubernetes version (and namespace and
/// arguments). Keeps nothing unless built with [`RenderCache::keeping`]: a run whose
/// suites never reuse a render should not hold every chart's manifests in memory.
#[derive(Debug, Default)]
pub struct RenderCache {
    keep: bool,
    entries: Mutex<HashMap<RenderKey, Arc<RenderCell>>>,
}

type RenderCell = OnceCell<Result<Arc<Rendered>, Problem>>;

impl RenderCache {
    /// The cache a run of `suites` needs: keeping, when a suite that reuses renders
    /// (policy) runs after the one that makes them (template); else keeping nothing.
    pub fn for_suites(suites: &[Suite]) -> RenderCache {
        if suites.contains(&Suite::Template) && suites.contains(&Suite::Policy) {
            RenderCache::keeping()
        } else {
            RenderCache::default()
        }
    }

    /// A cache that keeps every shared render for the rest of the run.
    pub fn keeping() -> RenderCache {
        RenderCache {
            keep: true,
            entries: Mutex::default(),
        }
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct RenderKey {
    chart_dir: PathBuf,
    case: String,
    kube_version: String,
    namespace: String,
    extra_args: Vec<String>,
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::HarnessConfig;
    use crate::discovery;
    use crate::plan;
    use crate::tools::{self, HelmMajor, Toolbox};

    fn workspace_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .to_path_buf()
    }

    /// A run's context over the fixture charts with the pinned helm 4; the directory
    /// holds helm's isolated home.
    async fn context(renders: RenderCache) -> (tempfile::TempDir, SuiteContext) {
        let root = workspace_root();
        let state = tempfile::tempdir().unwrap();
        let toolbox = Toolbox::resolve(&root, HelmMajor::V4, state.path())
            .await
            .unwrap_or_else(|e| panic!("these tests run the pinned helm: {e}"));
        let ctx = SuiteContext {
            repo_root: root.clone(),
            config: Arc::new(HarnessConfig::defaults(&root)),
            tools: Arc::new(toolbox),
            kube_version: tools::pinned_kube_version(&root).unwrap(),
            snapshot_mode: crate::suites::SnapshotMode::Check,
            cluster: None,
            claims: Default::default(),
            shared: Arc::new(crate::suites::RunInputs {
                renders,
                ..Default::default()
            }),
        };
        (state, ctx)
    }

    /// The template trial of the default case of fixture `kind/name`.
    fn trial(ctx: &SuiteContext, kind: &str, name: &str) -> Trial {
        let mut config = (*ctx.config).clone();
        config.chart_dirs = vec![ctx.repo_root.join("fixtures").join(kind)];
        let charts = discovery::discover(&config, &ctx.repo_root, &mut Vec::new()).unwrap();
        let chart = charts.into_iter().find(|c| c.name == name).unwrap();
        plan::plan(&[Arc::new(chart)], &[Suite::Template]).remove(0)
    }

    fn target<'a>(ctx: &'a SuiteContext, namespace: &'a str) -> RenderTarget<'a> {
        RenderTarget {
            namespace,
            kube_version: &ctx.kube_version,
            extra_args: &[],
            timeout: Duration::from_secs(60),
        }
    }

    /// The namespace web's RoleBinding names (`.Release.Namespace`).
    fn release_namespace(rendered: &Rendered) -> &serde_json::Value {
        let binding = rendered
            .manifests
            .iter()
            .find(|m| m.value["kind"] == "RoleBinding")
            .expect("web renders a RoleBinding");
        &binding.value["subjects"][0]["namespace"]
    }

    #[tokio::test]
    async fn renders_and_parses_every_document_with_its_template() {
        let (_home, ctx) = context(RenderCache::default()).await;
        let trial = trial(&ctx, "charts", "web");
        let inputs = TrialInputs::prepare(&trial, &ctx).unwrap();
        let rendered = render(&ctx, &trial, &inputs, &target(&ctx, "team-a"))
            .await
            .unwrap();
        assert!(rendered.problems.is_empty(), "{:?}", rendered.problems);
        let deployment = rendered
            .manifests
            .iter()
            .find(|m| m.value["kind"] == "Deployment")
            .expect("web renders a Deployment");
        assert_eq!(
            deployment.source.as_deref(),
            Some("templates/deployment.yaml")
        );
        assert_eq!(release_namespace(&rendered), "team-a");
    }

    #[tokio::test]
    async fn a_refused_render_is_one_problem_at_the_template_line() {
        let (_home, ctx) = context(RenderCache::default()).await;
        let trial = trial(&ctx, "broken", "template-error");
        let inputs = TrialInputs::prepare(&trial, &ctx).unwrap();
        let problem = render(&ctx, &trial, &inputs, &target(&ctx, "default"))
            .await
            .unwrap_err();
        assert_eq!(
            problem.file.as_deref(),
            Some(Path::new(
                "fixtures/broken/template-error/templates/deployment.yaml"
            ))
        );
        assert_eq!(problem.line, Some(17));
        assert!(
            problem.message.contains("image.repository must be set"),
            "{problem}"
        );
    }

    #[tokio::test]
    async fn a_kept_render_is_shared_by_chart_case_version_and_namespace() {
        let (_home, ctx) = context(RenderCache::keeping()).await;
        let trial = trial(&ctx, "charts", "web");
        let inputs = TrialInputs::prepare(&trial, &ctx).unwrap();
        // Both ask before either has finished: the second waits for the first's render.
        let default = target(&ctx, "default");
        let (first, second) = tokio::join!(
            render_shared(&ctx, &trial, &inputs, &default),
            render_shared(&ctx, &trial, &inputs, &default),
        );
        assert!(Arc::ptr_eq(&first.unwrap(), &second.unwrap()));
        let elsewhere = render_shared(&ctx, &trial, &inputs, &target(&ctx, "team-a"))
            .await
            .unwrap();
        assert_eq!(release_namespace(&elsewhere), "team-a");
    }

    #[test]
    fn renders_are_kept_only_when_policy_runs_after_template() {
        let keeps = |suites: &[Suite]| RenderCache::for_suites(suites).keep;
        assert!(keeps(&[Suite::Template, Suite::Policy]));
        assert!(!keeps(&[Suite::Template]));
        assert!(!keeps(&[Suite::Policy]));
        assert!(!keeps(&[Suite::Lint, Suite::Template, Suite::Integration]));
    }

    #[tokio::test]
    async fn without_keeping_every_render_is_new() {
        let (_home, ctx) = context(RenderCache::default()).await;
        let trial = trial(&ctx, "charts", "web");
        let inputs = TrialInputs::prepare(&trial, &ctx).unwrap();
        let first = render_shared(&ctx, &trial, &inputs, &target(&ctx, "default")).await;
        let second = render_shared(&ctx, &trial, &inputs, &target(&ctx, "default")).await;
        assert!(!Arc::ptr_eq(&first.unwrap(), &second.unwrap()));
    }
}
