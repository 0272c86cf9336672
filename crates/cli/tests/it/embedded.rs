//! The in-process services of `aide run` (issue 10): the runner and the gateway listen on
//! loopback in plaintext, and answer only the process that started them — a call without its
//! process token (another local user, say) is refused before it reaches the service, so no
//! one else can run code through the runner or spend the provider keys.

use aide_cli::embedded::{ServiceOptions, Services};
use aide_proto::bearer::{Bearer, authed};
use aide_proto::v1;
use aide_proto::v1::llm_gateway_client::LlmGatewayClient;
use aide_proto::v1::runner_client::RunnerClient;
use aide_runner::BackendKind;
use tonic::Code;
use tonic::transport::Channel;

async fn channel(url: &str) -> Channel {
    tonic::transport::Endpoint::from_shared(url.to_owned())
        .expect("url")
        .connect()
        .await
        .expect("connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_process_services_answer_only_their_own_process() {
    let options = ServiceOptions {
        sandbox: BackendKind::Process,
        slots: 1,
        work_root: None,
        coordinator: None,
        redis_url: None,
        metrics: aide_telemetry::Metrics::new(),
    };
    let services = Services::start(&options, &|_| {}).await.expect("services");
    let stranger = Bearer::none();
    let other = Bearer::new(&aide_core::access::Token::generate().expect("token"));
    for bearer in [stranger, other] {
        let mut runner =
            RunnerClient::new(authed(channel(&services.runner_url).await, bearer.clone()));
        let refused = runner
            .execute(v1::ExecuteRequest::default())
            .await
            .expect_err("a call without the process token");
        assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
        let mut gateway =
            LlmGatewayClient::new(authed(channel(&services.gateway_url).await, bearer));
        let refused = gateway
            .complete(v1::CompleteRequest::default())
            .await
            .expect_err("a call without the process token");
        assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    }
    // The process's own token gets through to the request's own checks.
    let own = Bearer::new(&services.process_token);
    let mut runner = RunnerClient::new(authed(channel(&services.runner_url).await, own));
    let checked = runner
        .execute(v1::ExecuteRequest::default())
        .await
        .expect_err("an empty request");
    assert_eq!(checked.code(), Code::InvalidArgument, "{checked:?}");
    services.stop().await;
}
