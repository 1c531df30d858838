//! The example workflow's runs (tests/it/github_workflow.rs plays the hosted runner):
//! a three-level image tree, a fork's copy jobs, a requested rebuild, a registry with a
//! password, and a tree deeper than the workflow has jobs for.

use serde_json::{json, Value};

use crate::github_workflow::{Outcome, Run};
use crate::pipelines::{tools, Lab, QEMU_TOML};
use crate::realdocker::Registry;

const BASE: &str = "FROM @REG@/base/busybox:1\nRUN echo base-master > /base-marker\nRUN cat /proc/sys/kernel/random/uuid > /base-id\n";
/// `tests/docker/dockerfiles/<name>.docker` FROM `<parent>` (in the project's registry),
/// adding its own marker line to `/marker`.
fn image(name: &str, parent: &str) -> (String, String) {
    (
        format!("tests/docker/dockerfiles/{name}.docker"),
        format!("FROM @REG@/qemu/{parent}:latest\nRUN echo {name} >> /marker\n"),
    )
}

/// base -> child -> debian: three levels, one more than the example had jobs for.
fn three_levels() -> Lab {
    let child = image("child", "base");
    let debian = image("debian", "child");
    Lab::new(&[
        (".dockguard.toml", QEMU_TOML),
        ("tests/docker/dockerfiles/base.docker", BASE),
        (&child.0, &child.1),
        (&debian.0, &debian.1),
    ])
}

fn push_event() -> Value {
    json!({
        "before": "0000000000000000000000000000000000000000",
        "repository": {"default_branch": "master"},
    })
}

fn run<'a>(lab: &'a Lab, registry_image: &str) -> Run<'a> {
    Run {
        lab,
        branch: "master".into(),
        event_name: "push",
        event: push_event(),
        plan_with: vec![("registry-image", registry_image.to_owned())],
        build_with: Vec::new(),
    }
}

fn assert_ok(o: &Outcome) {
    assert!(o.ok(), "jobs {:?}\n{}", o.jobs, o.log);
}

fn jobs(o: &Outcome) -> Vec<&str> {
    o.jobs.keys().map(String::as_str).collect()
}

#[test]
#[ignore = "needs dockerd and docker-registry"]
fn a_three_level_tree_is_built_to_the_last_level_and_the_test_job_runs_on_it() {
    tools();
    let lab = three_levels();
    let o = run(&lab, &format!("{}/qemu", lab.host())).go();
    assert_ok(&o);
    assert_eq!(o.plan["levels"], "3");
    assert_eq!(
        jobs(&o),
        [
            "level0 (base)",
            "level1 (child)",
            "level2 (debian)",
            "plan",
            "test"
        ]
    );
    assert_eq!(o.skipped, ["level3"]);
    let image = o.test_image.clone().expect("the test job ran");
    assert_eq!(
        lab.run_in(&image, "cat /base-marker /marker"),
        "base-master\nchild\ndebian"
    );

    // Again: nothing to build, no build job runs, the test job has the same image.
    let again = run(&lab, &format!("{}/qemu", lab.host())).go();
    assert_ok(&again);
    assert_eq!(again.plan["levels"], "0");
    assert_eq!(jobs(&again), ["plan", "test"]);
    assert_eq!(again.test_image, Some(image));
}

#[test]
#[ignore = "needs dockerd and docker-registry"]
fn a_forks_copy_jobs_install_the_dockguard_they_run() {
    // Each job runs on a fresh runner with no dockguard on PATH: the copy jobs must
    // install the pinned binary themselves (they failed with `dockguard: not found`).
    tools();
    let lab = three_levels();
    let upstream = format!("{}/upstream", lab.host());
    assert_ok(&run(&lab, &upstream).go());
    let mut fork = run(&lab, &format!("{}/fork", lab.host()));
    fork.plan_with
        .push(("upstream-registry-image", upstream.clone()));
    let o = fork.go();
    assert_ok(&o);
    assert_eq!(o.plan["levels"], "3", "{:?}", o.plan);
    assert_eq!(o.log.matches("dockguard: copied").count(), 3, "{}", o.log);
    let image = o.test_image.expect("the test job ran");
    assert!(
        image.starts_with(&format!("{}/fork/debian:", lab.host())),
        "{image}"
    );
    assert_eq!(lab.run_in(&image, "cat /marker"), "child\ndebian");
}

#[test]
#[ignore = "needs dockerd and docker-registry"]
fn a_requested_rebuild_runs_every_step_again() {
    // A branch changing the base, run again by hand with rebuild: the plan builds the
    // affected images although their content tags exist, and the builds reuse no layer
    // (master's `:latest`, pulled as --cache-from, would hand back its `RUN` layers).
    tools();
    let lab = three_levels();
    let reg = format!("{}/qemu", lab.host());
    assert_ok(&run(&lab, &reg).go());
    let m = lab.repo.head();
    lab.repo.switch_new("feature", m);
    lab.commit(
        "base: feature",
        &[(
            "tests/docker/dockerfiles/base.docker",
            &format!("{BASE}RUN echo feature >> /base-marker\n"),
        )],
    );
    lab.push();
    let mut feature = run(&lab, &reg);
    feature.branch = "feature".into();
    let first = feature.go();
    assert_ok(&first);
    let image = first.test_image.clone().expect("test job");
    let before = lab.run_in(&image, "cat /base-id");
    feature.event_name = "workflow_dispatch";
    feature.event =
        json!({"inputs": {"rebuild": "true"}, "repository": {"default_branch": "master"}});
    let o = feature.go();
    assert_ok(&o);
    assert_eq!(o.plan["levels"], "3", "{}", o.log);
    assert!(o.log.contains("no build cache (--no-cache)"), "{}", o.log);
    assert!(!o.log.contains("dockguard: build cache:"), "{}", o.log);
    assert_eq!(
        o.test_image,
        Some(image.clone()),
        "the same content, the same tag"
    );
    let after = lab.run_in(&image, "cat /base-id");
    assert_ne!(before, after, "the rebuilt base reused the old RUN layer");
}

#[test]
#[ignore = "needs dockerd and docker-registry"]
fn a_registry_with_a_password_gets_it_from_the_action_inputs() {
    // Not ghcr.io, so GITHUB_TOKEN does not cover it: the plan step logs in with its
    // registry-user/registry-password inputs, the build steps with theirs. The second
    // run finds every image, which only a plan that could read the registry can.
    tools();
    let lab = Lab::new(&[]);
    let private = Registry::basic("ci", "s3cret pass");
    let toml = QEMU_TOML.replace("@REG@", &private.host());
    let child = format!(
        "FROM {}/qemu/base:latest\nRUN echo child >> /marker\n",
        private.host()
    );
    lab.commit(
        "images",
        &[
            (".dockguard.toml", &toml),
            ("tests/docker/dockerfiles/base.docker", BASE),
            ("tests/docker/dockerfiles/debian.docker", &child),
        ],
    );
    lab.push();
    let creds = || {
        vec![
            ("registry-user", "ci".to_owned()),
            ("registry-password", "s3cret pass".to_owned()),
        ]
    };
    let go = || {
        let mut r = run(&lab, &format!("{}/qemu", private.host()));
        r.plan_with.extend(creds());
        r.build_with = creds();
        r.go()
    };
    let first = go();
    assert_ok(&first);
    assert_eq!(first.plan["levels"], "2");
    let second = go();
    assert_ok(&second);
    assert_eq!(second.plan["levels"], "0", "{}", second.log);
    assert_eq!(second.plan.get("images"), first.plan.get("images"));
}

#[test]
#[ignore = "needs dockerd and docker-registry"]
fn a_tree_deeper_than_the_workflows_jobs_fails_the_plan_job_saying_so() {
    tools();
    let mut files = vec![(
        "tests/docker/dockerfiles/l0.docker".to_owned(),
        BASE.to_owned(),
    )];
    for n in 1..5 {
        files.push(image(&format!("l{n}"), &format!("l{}", n - 1)));
    }
    files.push((".dockguard.toml".into(), QEMU_TOML.into()));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let lab = Lab::new(&refs);
    let o = run(&lab, &format!("{}/qemu", lab.host())).go();
    assert_eq!(jobs(&o), ["plan"]);
    assert!(!o.ok());
    assert!(
        o.log
            .contains("::error::dockguard: the plan has 5 build levels")
            && o.log.contains("make the image tree at most 4 levels deep"),
        "{}",
        o.log
    );
}

#[test]
fn the_action_the_script_and_the_workflow_agree_on_the_deepest_level() {
    // dockguard.sh fails a plan deeper than `max_levels`; the action must declare a
    // matrix-level-N output and the example workflow a job for each level below it.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = std::fs::read_to_string(root.join("ci/github/dockguard.sh")).expect("script");
    let max: usize = script
        .lines()
        .find_map(|l| l.strip_prefix("max_levels="))
        .expect("max_levels=")
        .parse()
        .expect("a number");
    let action = crate::plan::yaml_to_json(&root.join("ci/github/action.yml"));
    let workflow = crate::plan::yaml_to_json(&root.join("ci/github/example-workflow.yml"));
    for n in 0..=max {
        let declared = action["outputs"].get(format!("matrix-level-{n}")).is_some();
        let job = workflow["jobs"].get(format!("level{n}")).is_some();
        assert_eq!(declared, n < max, "action output matrix-level-{n}");
        assert_eq!(job, n < max, "workflow job level{n}");
    }
    let test_needs: Vec<&str> = workflow["jobs"]["test"]["needs"]
        .as_array()
        .expect("needs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for n in 0..max {
        assert!(
            test_needs.contains(&format!("level{n}").as_str()),
            "{test_needs:?}"
        );
    }
}
