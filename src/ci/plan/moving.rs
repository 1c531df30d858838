//! Moving tags (`--moving-tag latest`): tags that follow upstream's tip. The plan moves
//! them for the images it plans `skip`, by a manifest copy within each repository; the
//! child pipeline's jobs move them for what they build or copy. Only when the planned
//! commit is upstream's tip, so a pipeline that runs late for an older commit leaves them
//! to the newer one's.

use crate::cli::PlanArgs;
use crate::error::{Error, Result};
use crate::plan::{self, Action, PlannedImage};
use crate::registry::Repository as ImageRepo;
use crate::render::outputs;
use crate::Env;

use super::registry_client;

/// The `--moving-tag` values, checked: tags docker accepts, never one shaped like a
/// content tag (`c<digits>-…`), which would overwrite an image of other content.
pub(super) fn moving_tags(given: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for t in given {
        let t = t.trim();
        let content_like = t
            .strip_prefix('c')
            .and_then(|rest| rest.split_once('-'))
            .is_some_and(|(digits, _)| {
                !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
            });
        if !crate::registry::valid_tag(t) || content_like {
            return Err(Error::Config {
                origin: "flag --moving-tag".into(),
                message: format!(
                    "`{}` is not a tag that can follow a branch (a docker tag, not shaped like a content tag c1-…)",
                    outputs::one_line(t)
                ),
            });
        }
        if !out.iter().any(|o| o == t) {
            out.push(t.to_owned());
        }
    }
    Ok(out)
}

/// Moves each moving tag to the content of every image planned `skip` (a manifest copy
/// within its repository): what is built or copied gets them from its job.
pub(super) fn move_present(
    env: &Env,
    args: &PlanArgs,
    registry: &ImageRepo,
    images: &[PlannedImage],
    tags: &[String],
) -> Result<()> {
    let present: Vec<&PlannedImage> = images.iter().filter(|i| i.action == Action::Skip).collect();
    if tags.is_empty() || present.is_empty() {
        return Ok(());
    }
    let (client, _) = registry_client(env, args.registry_timeout);
    for img in present {
        let repo = registry.child(&plan::repository_name(&img.name));
        for t in tags {
            client
                .copy(&repo, &img.content_tag, &repo, t)
                .map_err(|f| Error::Hinted {
                    message: format!(
                        "cannot move {}:{t} to {}: {}",
                        repo.reference(),
                        img.content_tag,
                        outputs::one_line(&f.0)
                    ),
                    hint: "check that the job's credentials may push to this project's registry"
                        .into(),
                })?;
            eprintln!(
                "dockguard: {}:{t} is now {} (upstream's tip)",
                outputs::one_line(&repo.reference()),
                img.content_tag
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::moving_tags;

    #[test]
    fn moving_tags_are_docker_tags_never_content_tags() {
        let ok =
            moving_tags(&["latest".into(), " latest ".into(), "stable-1.2".into()]).expect("valid");
        assert_eq!(ok, ["latest", "stable-1.2"]);
        for bad in ["c1-0a1b", "c22-x", "", "a:b", "-x", &"x".repeat(200)] {
            assert!(moving_tags(&[bad.to_owned()]).is_err(), "{bad}");
        }
        assert!(moving_tags(&["cache-1".into()]).is_ok());
    }
}
