//! The metrics endpoint for real: a tonic server behind `GrpcMetricsLayer` answers a health
//! check and refuses one for an unknown service, and `GET /metrics` on the metrics listener
//! reports both by method and status code in the Prometheus text format.

use aide_telemetry::{GrpcMetricsLayer, Metrics, scrape, serve_metrics};
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, Server};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

#[tokio::test]
async fn served_requests_show_on_the_metrics_endpoint() {
    let metrics = Metrics::new();
    let grpc = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", grpc.local_addr().expect("address"));
    let (_reporter, health) = tonic_health::server::health_reporter();
    tokio::spawn(
        Server::builder()
            .layer(GrpcMetricsLayer::new(metrics.clone()))
            .add_service(health)
            .serve_with_incoming(TcpListenerStream::new(grpc)),
    );
    let http = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let metrics_address = http.local_addr().expect("address");
    let shutdown = CancellationToken::new();
    tokio::spawn(serve_metrics(
        http,
        metrics,
        axum::Router::new(),
        shutdown.clone(),
    ));

    let channel = Channel::from_shared(url).expect("url").connect_lazy();
    let mut client = HealthClient::new(channel);
    client
        .check(HealthCheckRequest::default())
        .await
        .expect("check");
    let unknown = HealthCheckRequest {
        service: "no.such.Service".into(),
    };
    let status = client.check(unknown).await.expect_err("unknown service");
    assert_eq!(status.code(), tonic::Code::NotFound);

    let response = scrape(metrics_address).await.expect("scrape");
    shutdown.cancel();
    assert!(
        response.contains("# TYPE grpc_server_requests_total counter"),
        "{response}"
    );
    assert!(
        response.contains(
            "grpc_server_requests_total{method=\"/grpc.health.v1.Health/Check\",code=\"OK\"} 1"
        ),
        "{response}"
    );
    assert!(
        response.contains(
            "grpc_server_requests_total{method=\"/grpc.health.v1.Health/Check\",code=\"NotFound\"} 1"
        ),
        "{response}"
    );
}
