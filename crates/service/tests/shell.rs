//! The service shell for real: a [`Shell`] serving gRPC health on port 0 with its metrics
//! endpoint on another, answering a health check (counted by method and code on
//! `/metrics`; the metrics port answers the same health check in plaintext, for probes),
//! then shutting down in order: NOT_SERVING during the drain (on both ports), background
//! tasks stopped after it, `serve` returning cleanly.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use aide_service::Shell;
use aide_telemetry::{Metrics, scrape};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

async fn status(client: &mut HealthClient<Channel>) -> ServingStatus {
    let answer = client
        .check(HealthCheckRequest::default())
        .await
        .expect("health check");
    answer.into_inner().status()
}

#[tokio::test]
async fn serves_counts_and_drains_in_order() {
    let grpc = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", grpc.local_addr().expect("address"));
    let metrics = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let metrics_address = metrics.local_addr().expect("address");
    let shell = Shell::new(Metrics::new()).metrics_listener(metrics);
    let stopped_after_drain = Arc::new(AtomicBool::new(false));
    let drained = Arc::new(AtomicBool::new(false));
    let (seen, drained_seen) = (stopped_after_drain.clone(), drained.clone());
    shell.background().spawn(|stop| async move {
        stop.cancelled().await;
        seen.store(drained_seen.load(Ordering::SeqCst), Ordering::SeqCst);
    });
    let shutdown = CancellationToken::new();
    let mut client = HealthClient::new(Channel::from_shared(url).expect("url").connect_lazy());
    let probe_url = format!("http://{metrics_address}");
    let mut probe = HealthClient::new(Channel::from_shared(probe_url).expect("url").connect_lazy());
    let (drain_client, drain_probe) = (client.clone(), probe.clone());
    let drain = async move {
        let (mut client, mut probe) = (drain_client, drain_probe);
        assert_eq!(status(&mut client).await, ServingStatus::NotServing);
        assert_eq!(status(&mut probe).await, ServingStatus::NotServing);
        drained.store(true, Ordering::SeqCst);
    };
    let served = tokio::spawn(shell.serve(grpc, shutdown.clone(), drain));

    let mut serving = false;
    for _ in 0..50 {
        if client.check(HealthCheckRequest::default()).await.is_ok() {
            serving = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(serving, "the shell never answered");
    assert_eq!(status(&mut client).await, ServingStatus::Serving);
    assert_eq!(status(&mut probe).await, ServingStatus::Serving);
    let text = scrape(metrics_address).await.expect("scrape");
    assert!(
        text.contains(
            "grpc_server_requests_total{method=\"/grpc.health.v1.Health/Check\",code=\"OK\"}"
        ),
        "{text}"
    );

    shutdown.cancel();
    served.await.expect("join").expect("clean shutdown");
    assert!(
        stopped_after_drain.load(Ordering::SeqCst),
        "background tasks are stopped after the drain"
    );
}
