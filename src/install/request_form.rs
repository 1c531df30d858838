//! Which form of rebuild request is configured (`push_option`), and what the server and
//! the CI configuration need for it to work: `install` and `status` say so.
//!
//! GitLab reads two forms from `git push -o`: a pipeline variable
//! (`ci.variable=NAME=1`), refused outright where pipeline variables are restricted (the
//! default for new GitLab.com projects since 17.7: `pipeline_variables_minimum_override_role:
//! no_one_allowed`), and a pipeline input (`ci.input=NAME=true`, since gitlab-org/gitlab
//! !184163, 2025), which the project's CI configuration must declare in its
//! `spec: inputs` and hand to `dockguard ci --request-input`. Any server must accept push
//! options at all (a plain git server: `receive.advertisePushOptions=true`; GitLab does).

use crate::config::RunSettings;

/// The configured request, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Form {
    /// `ci.variable=NAME=VALUE`.
    Variable {
        /// The variable's name.
        name: String,
    },
    /// `ci.input=NAME=VALUE`.
    Input {
        /// The input's name.
        name: String,
    },
    /// Anything else: the CI side must read it on its own.
    Other,
}

/// Classifies a push option.
pub fn classify(push_option: &str) -> Form {
    let named = |prefix: &str| {
        push_option
            .strip_prefix(prefix)
            .and_then(|rest| rest.split_once('='))
            .map(|(name, _)| name.to_owned())
            .filter(|n| !n.is_empty())
    };
    if let Some(name) = named("ci.variable=") {
        Form::Variable { name }
    } else if let Some(name) = named("ci.input=") {
        Form::Input { name }
    } else {
        Form::Other
    }
}

/// Lines (without a trailing newline) saying which form is configured, what the server
/// and the CI configuration need, and what to do when pipeline variables are restricted.
pub fn describe(settings: &RunSettings) -> Vec<String> {
    let option = &settings.push_option;
    let advertise = "the server must accept push options (GitLab does; a self-hosted plain git \
                     server needs `git config receive.advertisePushOptions true`, else the push fails)";
    let mut lines = Vec::new();
    match classify(option) {
        Form::Variable { name } => {
            lines.push(format!(
                "request:    `git push -o {option}`: a GitLab pipeline variable ({name})"
            ));
            lines.push(format!("            {advertise};"));
            lines.push(
                "            GitLab refuses the pipeline (\"Insufficient permissions to set pipeline \
                 variables\") where pipeline variables are restricted, the default for new \
                 GitLab.com projects since 17.7; then use the input form instead:"
                    .to_owned(),
            );
            lines.push(format!(
                "            git config dockguard.push-option ci.input={}=true",
                settings.ci.request_input
            ));
            if name != settings.ci.request_variable {
                lines.push(format!(
                    "            note: ci.request_variable is {}: the CI job needs \
                     `dockguard ci --request-variable {name}`",
                    settings.ci.request_variable
                ));
            }
        }
        Form::Input { name } => {
            lines.push(format!(
                "request:    `git push -o {option}`: a GitLab pipeline input ({name})"
            ));
            lines.push(format!("            {advertise};"));
            lines.push(format!(
                "            the project's .gitlab-ci.yml must declare it (`spec: inputs: {name}: \
                 {{type: boolean, default: false}}`) and pass it to `dockguard ci --request-input \
                 $[[ inputs.{name} ]]` (the dockguard CI/CD component does both); GitLab reads \
                 inputs from push options since 2025 (gitlab-org/gitlab!184163), and a push that \
                 sets an undeclared input gets no pipeline"
            ));
            if name != settings.ci.request_input {
                lines.push(format!(
                    "            note: ci.request_input is {}, so a repository's `push_option` \
                     may not name {name}",
                    settings.ci.request_input
                ));
            }
        }
        Form::Other => lines.push(format!(
            "request:    `git push -o {option}`: not a GitLab rebuild request dockguard knows \
             (ci.variable=… or ci.input=…): the CI side must read it on its own"
        )),
    }
    match settings.gitlab_pipeline_refs {
        0 => lines.push("            GitLab's per-push pipeline limit: not warned about (gitlab_pipeline_refs = 0)".to_owned()),
        n => lines.push(format!(
            "            GitLab creates pipelines for the first {n} branch/tag updates of a push only: \
             the hook warns when a ref that needs a rebuild comes later (gitlab_pipeline_refs)"
        )),
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_the_two_gitlab_forms() {
        assert_eq!(
            classify("ci.variable=DOCKGUARD_REBUILD=1"),
            Form::Variable {
                name: "DOCKGUARD_REBUILD".into()
            }
        );
        assert_eq!(
            classify("ci.input=dockguard_rebuild=true"),
            Form::Input {
                name: "dockguard_rebuild".into()
            }
        );
        assert_eq!(classify("ci.skip"), Form::Other);
        assert_eq!(classify("ci.variable==1"), Form::Other);
    }
}
