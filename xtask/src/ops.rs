//! The preflight of the operations commands that act on a deployed environment (`keys`,
//! `secrets`): whose AWS credentials, then the environment's Terraform outputs.
//!
//! Everything here reports on stderr: those commands keep stdout for their result.

use aws_config::SdkConfig;
use xshell::Shell;

use crate::environment::{self, Env, Outputs};

/// A deployed environment, reachable: AWS configuration and the names of its resources.
pub struct Connected {
    pub env: Env,
    pub sdk: SdkConfig,
    pub outputs: Outputs,
}

/// Credentials resolve (sts:GetCallerIdentity), `terraform init` against the account's state
/// bucket, `terraform output -json`.
pub fn connect(
    sh: &Shell,
    runtime: &tokio::runtime::Runtime,
    env: Env,
) -> crate::Result<Connected> {
    let (sdk, account_id) = runtime.block_on(async {
        let sdk = crate::aws::sdk_config().await;
        let account_id = crate::aws::account_id(&sdk).await?;
        anyhow::Ok((sdk, account_id))
    })?;
    let region = sdk.region().map_or("(no region)", |r| r.as_ref());
    eprintln!("==> {env}: AWS account {account_id}, {region}");
    eprintln!("reading environments/{env} (terraform init, output)");
    environment::init_quietly(sh, env, &environment::state_bucket(&account_id))?;
    let outputs = Outputs::read(sh, env)?;
    Ok(Connected { env, sdk, outputs })
}
