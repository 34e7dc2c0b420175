//! API Gateway as Terraform's api_gateway module builds it, reduced, for the tests of keys
//! that must work behind it.

use aws_sdk_apigateway::types::{ApiStage, IntegrationType, QuotaSettings, ThrottleSettings};

use super::Error;

/// The stage of the test REST APIs.
pub const STAGE: &str = "v1";

/// What Terraform's api_gateway module builds, reduced: a REST API with one method, a stage,
/// and a usage plan with throttle and quota on that stage.
pub async fn rest_api_with_plan(
    apigw: &aws_sdk_apigateway::Client,
    prefix: &str,
) -> Result<(String, String), Error> {
    let api = apigw.create_rest_api().name(prefix).send().await?;
    let api_id = api.id().ok_or("CreateRestApi returned no id")?.to_owned();
    let resources = apigw.get_resources().rest_api_id(&api_id).send().await?;
    let root = resources
        .items()
        .iter()
        .find(|r| r.path() == Some("/"))
        .and_then(|r| r.id())
        .ok_or("the new REST API has no root resource")?
        .to_owned();
    apigw
        .put_method()
        .rest_api_id(&api_id)
        .resource_id(&root)
        .http_method("GET")
        .authorization_type("NONE")
        .api_key_required(true)
        .send()
        .await?;
    apigw
        .put_integration()
        .rest_api_id(&api_id)
        .resource_id(&root)
        .http_method("GET")
        .r#type(IntegrationType::Mock)
        .send()
        .await?;
    apigw
        .create_deployment()
        .rest_api_id(&api_id)
        .stage_name(STAGE)
        .send()
        .await?;
    let plan = apigw
        .create_usage_plan()
        .name(format!("{prefix}-standard"))
        .api_stages(ApiStage::builder().api_id(&api_id).stage(STAGE).build())
        .throttle(
            ThrottleSettings::builder()
                .rate_limit(5.0)
                .burst_limit(10)
                .build(),
        )
        .quota(
            QuotaSettings::builder()
                .limit(1000)
                .period(aws_sdk_apigateway::types::QuotaPeriodType::Day)
                .build(),
        )
        .send()
        .await?;
    let plan_id = plan
        .id()
        .ok_or("CreateUsagePlan returned no id")?
        .to_owned();
    Ok((api_id, plan_id))
}
