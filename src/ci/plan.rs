//! `dockguard plan`: the pipeline's build plan. Judges the commit as `dockguard ci` does
//! ([`super::judge`]), computes every image's content tag in build order, asks the
//! registries about each ([`crate::registry`]), decides ([`crate::plan::decide`]) and
//! writes what the pipeline acts on ([`crate::render::plan`]).
//!
//! Where it connects (the registries) and with which credentials come from flags and the
//! CI job's environment only, never from the repository.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use git2::Repository;

use crate::cli::{CopyArgs, PlanArgs, PlanFormat, ProviderArg, RegistryUnreachable};
use crate::error::{Error, Result};
use crate::git::short;
use crate::images::{graph, tag};
use crate::plan::{
    self, Action, Input, PlanParent, PlanReport, PlanUpstream, PlannedImage, RegistryAnswer,
    RegistryState,
};
use crate::registry::creds::Credentials;
use crate::registry::{Client, Options, Repository as ImageRepo, TagState};
use crate::render::outputs;
use crate::render::plan as render_plan;
use crate::Env;

use super::provider::Provider;
use super::verify;

mod moving;
use self::moving::{move_present, moving_tags};

/// The registry client of a job: credentials from the environment (with what was wrong
/// with them), each request bounded by `timeout` seconds.
fn registry_client(env: &Env, timeout: u64) -> (Client, Vec<String>) {
    let creds = Credentials::from_env(env);
    let warnings = creds.warnings.clone();
    let options = Options {
        request_timeout: Duration::from_secs(timeout.max(1)),
        ..Options::default()
    };
    (Client::new(options, creds), warnings)
}

/// Runs `dockguard plan`. Returns the exit code.
pub fn run(repo: &Repository, args: &PlanArgs, env: &Env, out: &mut dyn Write) -> Result<i32> {
    let registry = registry_image(args, env)?;
    // Where the plan connects (and sends the job's registry credentials) comes from
    // flags, never from a DOCKGUARD_* variable: pipeline variables can be set by whoever
    // pushes (README, "Security model").
    let upstream_registry = match args.upstream_registry_image.as_deref() {
        Some(text) if !text.trim().is_empty() => {
            Some(parse_repo(text.trim(), "flag --upstream-registry-image")?)
        }
        _ => None,
    };
    let moving_tags = moving_tags(&args.moving_tag)?;
    let judged = super::judge(repo, &args.pipeline, false, env)?;
    let Some(verdict) = judged.report.targets.first() else {
        return Err(Error::Usage("internal: no verdict for the target".into()));
    };
    let (request, decision) = judged.decide(
        env,
        args.pipeline.request_input.as_deref(),
        args.pipeline.strict,
    );
    let rebuild_requested = request.requested() || args.rebuild;

    let (mut images, mut warnings) = images_of(
        repo,
        judged.context(),
        verdict,
        &registry,
        upstream_registry.as_ref(),
    )?;
    let (requests, registry_seconds) = ask_registries(
        env,
        args,
        &registry,
        upstream_registry.as_ref(),
        rebuild_requested,
        &mut images,
        &mut warnings,
    )?;

    let counts = plan::apply(&mut images, rebuild_requested);
    // Moving tags follow upstream's tip: an older pipeline that runs late (a retry, a
    // queue) leaves them to the pipeline of the newer tip.
    let moving_tags = if verdict.tip == judged.report.upstream.oid {
        moving_tags
    } else {
        Vec::new()
    };
    move_present(env, args, &registry, &images, &moving_tags)?;

    let report = PlanReport {
        version: plan::PLAN_SCHEMA_VERSION,
        provider: match judged.provider() {
            Provider::Gitlab => "gitlab",
            Provider::Github => "github",
            Provider::Generic => "generic",
        }
        .into(),
        target: verdict.label.clone(),
        commit: verdict.tip.to_string(),
        upstream: PlanUpstream {
            refname: judged.report.upstream.refname.clone(),
            commit: judged.report.upstream.oid.to_string(),
        },
        merge_base: verdict.merge_base.map(|b| b.to_string()),
        registry: registry.reference(),
        upstream_registry: upstream_registry.as_ref().map(ImageRepo::reference),
        rebuild_requested,
        request_variable: judged.request_variable().to_owned(),
        decision: if decision.rebuild { "rebuild" } else { "skip" }.into(),
        reason: decision.case.slug().into(),
        strict_failure: decision.strict_failure,
        build_order: images.iter().map(|i| i.name.clone()).collect(),
        images,
        counts,
        registry_requests: requests,
        registry_seconds,
        warnings,
        moving_tags,
    };
    eprintln!(
        "dockguard: plan for {} ({}): {} to build, {} to copy, {} present; {} registry request(s) in {:.2} s",
        outputs::one_line(&report.target),
        short(&verdict.tip),
        counts.build,
        counts.copy,
        counts.skip,
        report.registry_requests,
        registry_seconds
    );
    write_files(args, env, &report, judged.provider())?;
    let text = match args.format {
        PlanFormat::Human => render_plan::human(&report),
        PlanFormat::Json => render_plan::json(&report),
        PlanFormat::Mermaid => render_plan::mermaid(&report),
        PlanFormat::Dot => render_plan::dot(&report),
    };
    crate::write_out(out, text.as_bytes())?;
    // `ci`'s yes/no line matters here only when the push skipped the hook (a warning)
    // or --strict fails the job; the plan above says what is built.
    if decision.case == verify::Case::Fallback {
        eprintln!(
            "{}",
            verify::line(&decision, &request, judged.push_option())
        );
    }
    Ok(i32::from(decision.strict_failure))
}

/// The images of the planned commit in build order, with content tags, references,
/// parents and what upstream comparison said (registry state still to be asked).
fn images_of(
    repo: &Repository,
    ctx: &crate::context::Context,
    verdict: &crate::engine::verdict::TargetVerdict,
    registry: &ImageRepo,
    upstream_registry: Option<&ImageRepo>,
) -> Result<(Vec<PlannedImage>, Vec<String>)> {
    let base_unknown = verdict.merge_base.is_none();
    let commit = repo
        .find_commit(verdict.tip)
        .map_err(|e| Error::git(format!("cannot read commit {}", verdict.tip), e))?;
    let tree = commit
        .tree()
        .map_err(|e| Error::git(format!("cannot read the tree of {}", verdict.tip), e))?;
    let catalog = crate::images::cmd::catalog_at(repo, ctx, &commit, &verdict.label)?;
    let set = catalog.image_set(repo, tree.id())?;
    let order = graph::build_order(&set)?;
    let mut tags = tag::all_tags(repo, &set, &tree);
    let affected: BTreeMap<&str, &Vec<String>> = verdict
        .images
        .iter()
        .map(|a| (a.name.as_str(), &a.reasons))
        .collect();
    let names: Vec<&str> = order.iter().map(|i| i.name.as_str()).collect();
    let variables = plan::variable_names(&names);

    let mut images = Vec::with_capacity(order.len());
    let mut refs: BTreeMap<String, String> = BTreeMap::new();
    for (img, variable) in order.iter().zip(variables) {
        let content_tag = match tags.remove(&img.name) {
            Some(Ok(t)) => t,
            Some(Err(e)) => return Err(e),
            None => {
                return Err(Error::Usage(format!(
                    "internal: no content tag for `{}`",
                    img.name
                )))
            }
        };
        let component = plan::repository_name(&img.name);
        let own = registry.child(&component);
        let reference = format!("{}:{content_tag}", own.reference());
        refs.insert(img.name.clone(), reference.clone());
        let (is_affected, reasons) = if base_unknown {
            (true, verdict.reasons.clone())
        } else {
            match affected.get(img.name.as_str()) {
                Some(r) => (true, (*r).clone()),
                None => (false, Vec::new()),
            }
        };
        images.push(PlannedImage {
            name: img.name.clone(),
            dockerfile: img.dockerfile_display(),
            context: img.context_display(),
            upstream_reference: upstream_registry
                .as_ref()
                .map(|u| format!("{}:{content_tag}", u.child(&component).reference())),
            content_tag,
            reference,
            variable,
            parents: img
                .parents
                .iter()
                .map(|p| PlanParent {
                    name: p.name.clone(),
                    written: p.reference.clone(),
                    reference: String::new(),
                })
                .collect(),
            affected: is_affected,
            reasons,
            registry: RegistryAnswer {
                state: RegistryState::Unknown,
                digest: None,
                detail: None,
            },
            action: Action::Build,
            why: String::new(),
            needs: Vec::new(),
            level: 0,
        });
    }
    for img in &mut images {
        for p in &mut img.parents {
            p.reference = refs.get(&p.name).cloned().unwrap_or_default();
        }
    }

    let mut warnings = set.warnings.clone();
    for img in &order {
        if std::str::from_utf8(&img.dockerfile.path).is_err()
            || std::str::from_utf8(&img.context).is_err()
        {
            warnings.push(format!(
                "image `{}`: its dockerfile or context path is not UTF-8; the outputs carry it with U+FFFD in place of the bad bytes",
                outputs::one_line(&img.name)
            ));
        }
    }
    Ok((images, warnings))
}

/// Asks the registries about every image (this project's for all, upstream's for what
/// could be copied) and fills in `registry`. Returns the request count and the seconds.
/// When this project's registry could not be asked about an image, the plan fails with
/// its words ([`unreachable`]), unless `--registry-unreachable build`.
fn ask_registries(
    env: &Env,
    args: &PlanArgs,
    registry: &ImageRepo,
    upstream_registry: Option<&ImageRepo>,
    rebuild_requested: bool,
    images: &mut [PlannedImage],
    warnings: &mut Vec<String>,
) -> Result<(usize, f64)> {
    // Ask the registries: this project's for every image, upstream's for what it lacks.
    let (client, creds_warnings) = registry_client(env, args.registry_timeout);
    warnings.extend(creds_warnings);
    let started = Instant::now();
    let queries: Vec<(ImageRepo, String)> = images
        .iter()
        .map(|i| {
            (
                registry.child(&plan::repository_name(&i.name)),
                i.content_tag.clone(),
            )
        })
        .collect();
    let own = client.tag_states(&queries);
    if args.registry_unreachable == RegistryUnreachable::Fail {
        unreachable(registry, &own)?;
    }
    let upstream_states = match &upstream_registry {
        Some(u) => ask_upstream(&client, u, images, &own, rebuild_requested),
        None => BTreeMap::new(),
    };
    let registry_seconds = started.elapsed().as_secs_f64();
    let mut unknown: Vec<String> = Vec::new();
    for (i, img) in images.iter_mut().enumerate() {
        img.registry = match &own[i] {
            TagState::Present { digest } => RegistryAnswer {
                state: RegistryState::Present,
                digest: digest.clone(),
                detail: None,
            },
            TagState::Unknown { reason } | TagState::Unreachable { reason } => RegistryAnswer {
                state: RegistryState::Unknown,
                digest: None,
                detail: Some(reason.clone()),
            },
            TagState::Missing => match upstream_states.get(&i) {
                Some(TagState::Present { digest }) => RegistryAnswer {
                    state: RegistryState::UpstreamOnly,
                    digest: digest.clone(),
                    detail: None,
                },
                Some(TagState::Missing) => RegistryAnswer {
                    state: RegistryState::Missing,
                    digest: None,
                    detail: Some("nor in the upstream project's registry".into()),
                },
                Some(TagState::Unknown { reason } | TagState::Unreachable { reason }) => {
                    RegistryAnswer {
                        state: RegistryState::Missing,
                        digest: None,
                        detail: Some(format!(
                            "the upstream project's registry could not tell: {reason}"
                        )),
                    }
                }
                None if upstream_registry.is_some() => RegistryAnswer {
                    state: RegistryState::Missing,
                    digest: None,
                    detail: Some("upstream's registry not asked: a parent is built".into()),
                },
                None => RegistryAnswer {
                    state: RegistryState::Missing,
                    digest: None,
                    detail: None,
                },
            },
        };
        if img.registry.state == RegistryState::Unknown {
            if let Some(d) = &img.registry.detail {
                unknown.push(d.clone());
            }
        }
    }
    for w in collapse(&unknown) {
        eprintln!("dockguard: warning: {}", outputs::one_line(&w));
    }

    Ok((client.requests(), registry_seconds))
}

/// The plan's one clear failure when this project's registry could not be asked about
/// some image: every build job would fail at its push (or build what exists), so the plan
/// job fails instead, with the registry's words for the first such image.
fn unreachable(registry: &ImageRepo, own: &[TagState]) -> Result<()> {
    let failed: Vec<&str> = own
        .iter()
        .filter(|s| matches!(s, TagState::Unreachable { .. }))
        .filter_map(TagState::reason)
        .collect();
    let Some(first) = failed.first() else {
        return Ok(());
    };
    Err(Error::Hinted {
        message: format!(
            "cannot ask the registry {} about {} of {} image(s): {}",
            registry.reference(),
            failed.len(),
            own.len(),
            outputs::one_line(first)
        ),
        hint: "check that the registry is up and that the job's credentials (CI_REGISTRY_USER/CI_REGISTRY_PASSWORD, CI_JOB_TOKEN, GITHUB_TOKEN, docker config.json) may pull from it; to build every such image instead, run the plan with --registry-unreachable build".into(),
    })
}

/// Asks the upstream registry about the images this project's registry lacks, but
/// only those that could be copied: an image whose parent is built is built too, so its
/// upstream state cannot matter. In rounds along the FROM graph (a child is asked once
/// its parent is known to be copied or present), each round one parallel batch: for a
/// QEMU-like tree that is one request for a base nobody has, not one per image.
fn ask_upstream(
    client: &Client,
    upstream: &ImageRepo,
    images: &[PlannedImage],
    own: &[TagState],
    rebuild: bool,
) -> BTreeMap<usize, TagState> {
    let mut answers: BTreeMap<usize, TagState> = BTreeMap::new();
    let index: BTreeMap<&str, usize> = images
        .iter()
        .enumerate()
        .map(|(i, img)| (img.name.as_str(), i))
        .collect();
    loop {
        let inputs: Vec<Input> = images
            .iter()
            .enumerate()
            .map(|(i, img)| Input {
                name: img.name.clone(),
                parents: img.parents.iter().map(|p| p.name.clone()).collect(),
                affected: img.affected,
                state: match (&own[i], answers.get(&i)) {
                    (TagState::Present { .. }, _) => RegistryState::Present,
                    (TagState::Unknown { .. } | TagState::Unreachable { .. }, _) => {
                        RegistryState::Unknown
                    }
                    (TagState::Missing, Some(TagState::Present { .. })) => {
                        RegistryState::UpstreamOnly
                    }
                    (TagState::Missing, _) => RegistryState::Missing,
                },
                detail: None,
            })
            .collect();
        let decided = plan::decide(&inputs, rebuild);
        let ask: Vec<usize> = (0..images.len())
            .filter(|i| own[*i] == TagState::Missing && !answers.contains_key(i))
            .filter(|i| !(rebuild && images[*i].affected))
            .filter(|i| {
                images[*i].parents.iter().all(|p| {
                    index
                        .get(p.name.as_str())
                        .is_some_and(|j| decided[*j].action != Action::Build)
                })
            })
            .collect();
        if ask.is_empty() {
            return answers;
        }
        let q: Vec<(ImageRepo, String)> = ask
            .iter()
            .map(|i| {
                (
                    upstream.child(&plan::repository_name(&images[*i].name)),
                    images[*i].content_tag.clone(),
                )
            })
            .collect();
        for (i, state) in ask.iter().zip(client.tag_states(&q)) {
            answers.insert(*i, state);
        }
    }
}

fn write_files(args: &PlanArgs, env: &Env, report: &PlanReport, prov: Provider) -> Result<()> {
    if let Some(path) = &args.json {
        outputs::write(path, &render_plan::json(report))?;
    }
    if let Some(path) = &args.dotenv {
        let text = render_plan::dotenv(report, &args.dotenv_images, args.dotenv_max_vars)?;
        outputs::write(path, &text)?;
    }
    if let Some(path) = &args.child_pipeline {
        outputs::write(
            path,
            &render_plan::child_pipeline(report, &args.child_include, args.child_jobs)?,
        )?;
    }
    if let Some(path) = &args.markdown {
        outputs::write(path, &render_plan::markdown(report))?;
    }
    let github = prov == Provider::Github || args.pipeline.provider == ProviderArg::Github;
    if github {
        if let Some(path) = env.get("GITHUB_OUTPUT").filter(|p| !p.is_empty()) {
            let text = render_plan::github_output(report, &crate::fsx::random_token());
            outputs::append(Path::new(path), &text)?;
        }
        if let Some(path) = env.get("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
            outputs::append(Path::new(path), &render_plan::markdown(report))?;
        }
    }
    Ok(())
}

/// `dockguard copy FROM TO`: the plan's `copy` action.
pub fn copy(args: &CopyArgs, env: &Env, out: &mut dyn Write) -> Result<i32> {
    let parse = |text: &str, what: &str| {
        ImageRepo::parse_reference(text).map_err(|e| Error::Config {
            origin: what.to_owned(),
            message: format!("{e}; give HOST[:PORT]/PATH:TAG"),
        })
    };
    let (from, from_tag) = parse(&args.from, "argument FROM")?;
    let (to, to_tag) = parse(&args.to, "argument TO")?;
    let (client, creds_warnings) = registry_client(env, args.registry_timeout);
    for w in &creds_warnings {
        eprintln!("dockguard: warning: {}", outputs::one_line(w));
    }
    let started = Instant::now();
    let r = client
        .copy(&from, &from_tag, &to, &to_tag)
        .map_err(|f| Error::Hinted {
            message: outputs::one_line(&f.0),
            hint: "check that FROM exists and the job's credentials (CI_REGISTRY_USER/CI_REGISTRY_PASSWORD, CI_JOB_TOKEN, GITHUB_TOKEN, docker config.json) may pull FROM and push TO".into(),
        })?;
    let line = format!(
        "dockguard: copied {}:{from_tag} to {}:{to_tag}: {} blob(s) mounted, {} uploaded, {} already there, {} manifest(s); {} request(s) in {:.2} s\n",
        from.reference(),
        to.reference(),
        r.mounted,
        r.uploaded,
        r.present,
        r.manifests,
        client.requests(),
        started.elapsed().as_secs_f64()
    );
    crate::write_out(out, line.as_bytes())?;
    Ok(0)
}

fn non_empty(env: &Env, name: &str) -> Option<String> {
    env.get(name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

fn parse_repo(text: &str, what: &str) -> Result<ImageRepo> {
    ImageRepo::parse(text).map_err(|e| Error::Config {
        origin: what.to_owned(),
        message: format!("{e}; give HOST[:PORT]/PATH, e.g. registry.gitlab.com/group/project"),
    })
}

/// This project's image repository: the flag, else the CI's own `CI_REGISTRY_IMAGE`
/// (GitLab) or `ghcr.io/<owner>/<repo>` (GitHub). No `DOCKGUARD_*` variable: those can
/// be set by whoever pushes. (The CI's predefined variables can be overridden too where a
/// project lets pushers set pipeline variables; README "Security model" says so.)
fn registry_image(args: &PlanArgs, env: &Env) -> Result<ImageRepo> {
    if let Some(r) = args
        .registry_image
        .as_deref()
        .filter(|r| !r.trim().is_empty())
    {
        return parse_repo(r.trim(), "flag --registry-image");
    }
    if let Some(r) = non_empty(env, "CI_REGISTRY_IMAGE") {
        return parse_repo(&r, "environment variable CI_REGISTRY_IMAGE");
    }
    if let Some(r) = non_empty(env, "GITHUB_REPOSITORY") {
        return parse_repo(
            &format!("ghcr.io/{}", r.to_ascii_lowercase()),
            "environment variable GITHUB_REPOSITORY (as ghcr.io/OWNER/REPO)",
        );
    }
    Err(Error::Usage(
        "no registry to plan against: pass --registry-image HOST/PATH (GitLab's CI_REGISTRY_IMAGE and GitHub's ghcr.io/OWNER/REPO are the defaults)".into(),
    ))
}

/// The registry's answers that leave images unknown, one warning per distinct answer: 29
/// images behind one refused connection are one line with a count, not 29.
/// An answer reads `registry HOST, image PATH:TAG: WHY` ([`crate::registry`]).
fn collapse(details: &[String]) -> Vec<String> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for d in details {
        let split = d.find(", image ").and_then(|at| {
            let rest = &d[at + ", image ".len()..];
            rest.find(": ").map(|colon| {
                let image = &rest[..colon];
                let key = format!("{}: {}", &d[..at], &rest[colon + 2..]);
                (key, image.to_owned())
            })
        });
        let (key, image) = split.unwrap_or_else(|| (d.clone(), String::new()));
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, images)) => images.push(image),
            None => groups.push((key, vec![image])),
        }
    }
    groups
        .into_iter()
        .map(|(key, images)| match images.len() {
            1 if images[0].is_empty() => key,
            1 => d_with_image(&key, &images[0]),
            n => {
                let shown: Vec<&str> = images.iter().take(3).map(String::as_str).collect();
                let more = if n > 3 { ", …" } else { "" };
                format!("{key} ({n} images: {}{more})", shown.join(", "))
            }
        })
        .collect()
}

/// One answer as the registry gave it: `registry HOST, image IMAGE: WHY`.
fn d_with_image(key: &str, image: &str) -> String {
    match key.find(": ") {
        Some(at) => format!("{}, image {image}{}", &key[..at], &key[at..]),
        None => key.to_owned(),
    }
}

#[cfg(test)]
mod collapse_tests {
    #[test]
    fn identical_registry_answers_are_one_warning_with_a_count() {
        let d = |img: &str, why: &str| format!("registry r.example, image qemu/{img}:c1-ab: {why}");
        let refused = "connection refused (is the registry running?)";
        let mut all: Vec<String> = ["a", "b", "c", "d"].iter().map(|i| d(i, refused)).collect();
        all.push(d("e", "the answer is not a manifest"));
        all.push("no image named here".into());
        assert_eq!(
            super::collapse(&all),
            vec![
                format!("registry r.example: {refused} (4 images: qemu/a:c1-ab, qemu/b:c1-ab, qemu/c:c1-ab, …)"),
                d("e", "the answer is not a manifest"),
                "no image named here".to_owned(),
            ]
        );
    }
}
