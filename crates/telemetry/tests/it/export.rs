//! OTLP export for real: this test binary re-runs itself as a child with
//! `OTEL_EXPORTER_OTLP_ENDPOINT` pointing at a loopback HTTP listener; the child calls
//! `aide_telemetry::init`, records a span and drops the guard, which must flush the span as an
//! http/protobuf POST to `/v1/traces` carrying the service name.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

const CHILD: &str = "AIDE_TELEMETRY_EXPORT_CHILD";

/// Runs only as the child: init, one span, drop the guard.
#[test]
fn export_child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let guard = aide_telemetry::init("aide-export-test", "warn");
    assert!(guard.exporting());
    tracing::info_span!("exported").in_scope(|| tracing::info!("inside"));
    drop(guard);
}

/// One request received by the listener: request line, content type, body.
fn receive_one(listener: TcpListener) -> (String, String, Vec<u8>) {
    let (stream, _) = listener.accept().expect("accept");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut request_line = String::new();
    reader.read_line(&mut request_line).expect("request line");
    let (mut length, mut content_type) = (0usize, String::new());
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("header");
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().expect("length"),
                "content-type" => content_type = value.trim().to_owned(),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).expect("body");
    let mut stream = stream;
    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
    (request_line.trim_end().to_owned(), content_type, body)
}

#[test]
fn spans_are_exported_over_otlp_http_when_the_environment_says_so() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("address"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(receive_one(listener)));
    let status = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "export::export_child", "--nocapture"])
        .env(CHILD, "1")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("OTEL_SDK_DISABLED")
        .env_remove("OTEL_SERVICE_NAME")
        .status()
        .expect("child");
    assert!(status.success(), "child failed: {status}");
    let (request_line, content_type, body) = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("no export request");
    assert!(
        request_line.starts_with("POST /v1/traces "),
        "{request_line}"
    );
    assert_eq!(content_type, "application/x-protobuf");
    let contains = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
    assert!(contains(b"aide-export-test"), "service name missing");
    assert!(contains(b"exported"), "span name missing");
}
