//! The metrics endpoint for real: a tonic server behind `GrpcMetricsLayer` answers one health
//! check, and `GET /metrics` on the metrics listener reports it in the Prometheus text format.

use aide_telemetry::{GrpcMetricsLayer, Metrics, serve_metrics};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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
    tokio::spawn(serve_metrics(http, metrics, shutdown.clone()));

    let channel = Channel::from_shared(url).expect("url").connect_lazy();
    HealthClient::new(channel)
        .check(HealthCheckRequest::default())
        .await
        .expect("check");

    let mut stream = tokio::net::TcpStream::connect(metrics_address)
        .await
        .expect("connect");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    shutdown.cancel();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains("# TYPE grpc_server_requests_total counter"),
        "{response}"
    );
    assert!(
        response.contains("grpc_server_requests_total{method=\"/grpc.health.v1.Health/Check\"} 1"),
        "{response}"
    );
}
