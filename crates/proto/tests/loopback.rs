//! The generated client and server talk over a real TCP socket on loopback: a unary call
//! and a server stream, as the gateway and runner will use them.

use std::pin::Pin;

use aide_proto::v1::{
    self, CancelRequest, CancelResponse, CompleteRequest, CompleteResponse, ExecuteEvent,
    ExecuteRequest, WorkContext, execute_event,
    llm_gateway_client::LlmGatewayClient,
    llm_gateway_server::{LlmGateway, LlmGatewayServer},
    runner_client::RunnerClient,
    runner_server::{Runner, RunnerServer},
};
use tokio_stream::{Stream, StreamExt, wrappers::TcpListenerStream};
use tonic::{Request, Response, Status, transport::Server};

/// Echoes the request back in a way a test can check field by field.
#[derive(Debug, Default)]
struct EchoGateway;

#[tonic::async_trait]
impl LlmGateway for EchoGateway {
    async fn complete(
        &self,
        request: Request<CompleteRequest>,
    ) -> Result<Response<CompleteResponse>, Status> {
        let req = request.into_inner();
        let last = req
            .messages
            .last()
            .map(|m| m.content.clone())
            .unwrap_or_default();
        if req.model.is_empty() {
            return Err(Status::invalid_argument("model is required"));
        }
        Ok(Response::new(CompleteResponse {
            answer: Some(v1::complete_response::Answer::Text(format!(
                "{}:{last}",
                req.model
            ))),
            usage: Some(v1::Usage {
                prompt_tokens: last.len() as u64,
                completion_tokens: 3,
                cached_tokens: 0,
            }),
            cost_usd: 0.25,
            provider: "echo".into(),
            ..Default::default()
        }))
    }
}

/// Streams three output chunks then a finished event.
#[derive(Debug, Default)]
struct CountingRunner;

type EventStream = Pin<Box<dyn Stream<Item = Result<ExecuteEvent, Status>> + Send>>;

#[tonic::async_trait]
impl Runner for CountingRunner {
    type ExecuteStream = EventStream;

    async fn execute(
        &self,
        request: Request<ExecuteRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let attempt = request.into_inner().work.map_or(0, |w| w.attempt);
        let mut events: Vec<Result<ExecuteEvent, Status>> = (0..3u64)
            .map(|i| {
                Ok(ExecuteEvent {
                    event: Some(execute_event::Event::Output(v1::OutputChunk {
                        text: format!("line {i}\n"),
                        offset: i * 7,
                    })),
                })
            })
            .collect();
        events.push(Ok(ExecuteEvent {
            event: Some(execute_event::Event::Finished(v1::Finished {
                exit_code: Some(attempt as i32),
                output_bytes: 21,
                ..Default::default()
            })),
        }));
        Ok(Response::new(Box::pin(tokio_stream::iter(events))))
    }

    async fn cancel(
        &self,
        _request: Request<CancelRequest>,
    ) -> Result<Response<CancelResponse>, Status> {
        Ok(Response::new(CancelResponse { found: false }))
    }
}

async fn serve() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(
        Server::builder()
            .add_service(LlmGatewayServer::new(EchoGateway))
            .add_service(RunnerServer::new(CountingRunner))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    format!("http://{addr}")
}

#[tokio::test]
async fn unary_and_streaming_calls_cross_a_real_socket() {
    let url = serve().await;

    let mut gateway = LlmGatewayClient::connect(url.clone())
        .await
        .expect("connect gateway");
    let answer = gateway
        .complete(CompleteRequest {
            model: "baseline".into(),
            messages: vec![v1::ChatMessage {
                role: v1::Role::User.into(),
                content: "hello".into(),
            }],
            ..Default::default()
        })
        .await
        .expect("complete")
        .into_inner();
    assert_eq!(
        answer.answer,
        Some(v1::complete_response::Answer::Text("baseline:hello".into()))
    );
    assert_eq!(answer.usage.map(|u| u.prompt_tokens), Some(5));
    assert_eq!(answer.cost_usd, 0.25);

    let status = gateway
        .complete(CompleteRequest::default())
        .await
        .expect_err("no model");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);

    let mut runner = RunnerClient::connect(url).await.expect("connect runner");
    let work = WorkContext {
        run_id: "r".into(),
        node_id: "n".into(),
        attempt: 2,
        deadline: None,
        grading: None,
    };
    let mut stream = runner
        .execute(ExecuteRequest {
            work: Some(work),
            code: "print(1)".into(),
            ..Default::default()
        })
        .await
        .expect("execute")
        .into_inner();
    let mut text = String::new();
    let mut exit = None;
    while let Some(event) = stream.next().await {
        match event.expect("event").event {
            Some(execute_event::Event::Output(chunk)) => text.push_str(&chunk.text),
            Some(execute_event::Event::Finished(done)) => exit = done.exit_code,
            other => panic!("unexpected event {other:?}"),
        }
    }
    assert_eq!(text, "line 0\nline 1\nline 2\n");
    assert_eq!(exit, Some(2), "the attempt number reached the server");
}

#[test]
fn descriptor_set_lists_the_three_services() {
    use prost::Message;
    let set = prost_types::FileDescriptorSet::decode(v1::FILE_DESCRIPTOR_SET).expect("decode");
    let services: Vec<String> = set
        .file
        .iter()
        .flat_map(|f| f.service.iter().map(|s| s.name().to_owned()))
        .collect();
    for name in ["Coordinator", "LlmGateway", "Runner"] {
        assert!(
            services.iter().any(|s| s == name),
            "{name} missing from {services:?}"
        );
    }
}
