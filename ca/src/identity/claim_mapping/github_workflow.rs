//! The legacy `github-workflow` type: GitHub Actions claims, all required,
//! mapped onto the old .1.2-.1.6 extensions and the .1.9-.1.22 ones exactly
//! as upstream's GitHub principal does (no .1.23: that one is only in the
//! `ci-provider` templates).

use super::{TypeMapping, VerifiedClaims};
use crate::identity::config::ExtensionField as Field;
use crate::identity::error::IdentityError;
use crate::principal::SubjectAltName;

const GITHUB: &str = "https://github.com";

pub(super) fn map(verified: &VerifiedClaims<'_>) -> Result<TypeMapping, IdentityError> {
    let claim = |name: &str| verified.required_str(name).map(str::to_string);
    let job_workflow_ref = claim("job_workflow_ref")?;
    let sha = claim("sha")?;
    let event_name = claim("event_name")?;
    let repository = claim("repository")?;
    let workflow = claim("workflow")?;
    let git_ref = claim("ref")?;
    let job_workflow_sha = claim("job_workflow_sha")?;
    let runner_environment = claim("runner_environment")?;
    let repository_id = claim("repository_id")?;
    let repository_owner = claim("repository_owner")?;
    let repository_owner_id = claim("repository_owner_id")?;
    let repository_visibility = claim("repository_visibility")?;
    let workflow_ref = claim("workflow_ref")?;
    let workflow_sha = claim("workflow_sha")?;
    let run_id = claim("run_id")?;
    let run_attempt = claim("run_attempt")?;

    let build_signer_uri = format!("{GITHUB}/{job_workflow_ref}");
    let mut mapping = verified.mapping(SubjectAltName::Uri(build_signer_uri.clone()));
    mapping.fields = vec![
        (Field::GithubWorkflowTrigger, event_name.clone()),
        (Field::GithubWorkflowSha, sha.clone()),
        (Field::GithubWorkflowName, workflow),
        (Field::GithubWorkflowRepository, repository.clone()),
        (Field::GithubWorkflowRef, git_ref.clone()),
        (Field::BuildSignerUri, build_signer_uri),
        (Field::BuildSignerDigest, job_workflow_sha),
        (Field::RunnerEnvironment, runner_environment),
        (Field::SourceRepositoryUri, format!("{GITHUB}/{repository}")),
        (Field::SourceRepositoryDigest, sha),
        (Field::SourceRepositoryRef, git_ref),
        (Field::SourceRepositoryIdentifier, repository_id),
        (
            Field::SourceRepositoryOwnerUri,
            format!("{GITHUB}/{repository_owner}"),
        ),
        (Field::SourceRepositoryOwnerIdentifier, repository_owner_id),
        (Field::BuildConfigUri, format!("{GITHUB}/{workflow_ref}")),
        (Field::BuildConfigDigest, workflow_sha),
        (Field::BuildTrigger, event_name),
        (
            Field::RunInvocationUri,
            format!("{GITHUB}/{repository}/actions/runs/{run_id}/attempts/{run_attempt}"),
        ),
        (
            Field::SourceRepositoryVisibilityAtSigning,
            repository_visibility,
        ),
    ];
    Ok(mapping)
}
