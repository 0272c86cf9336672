//! `aide certs`: a CA and a runner's certificate that openssl verifies, naming the runner as
//! `aide://runner/<name>` with its hosts; private keys readable by their owner only; nothing
//! overwritten; bad names refused.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use crate::support::{run, stderr};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn a_ca_signs_service_certificates_that_openssl_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = dir.path().join("certs");
    let certs_arg = certs.to_str().expect("UTF-8");
    let init = run(&["certs", "init", "--dir", certs_arg]);
    assert_eq!(init.status.code(), Some(0), "{}", stderr(&init));
    let issued = run(&[
        "certs",
        "issue",
        "--dir",
        certs_arg,
        "--role",
        "runner",
        "--name",
        "gpu-1",
        "--host",
        "gpu-1.cluster.local",
        "--host",
        "10.0.0.7",
    ]);
    assert_eq!(issued.status.code(), Some(0), "{}", stderr(&issued));
    assert_eq!(mode(&certs.join("ca.key")), 0o600);
    assert_eq!(mode(&certs.join("gpu-1.key")), 0o600);

    let verified = Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(certs.join("ca.pem"))
        .arg(certs.join("gpu-1.pem"))
        .output()
        .expect("openssl verify");
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    let names = Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
        .arg(certs.join("gpu-1.pem"))
        .output()
        .expect("openssl x509");
    let names = String::from_utf8_lossy(&names.stdout);
    for expected in [
        "URI:aide://runner/gpu-1",
        "DNS:gpu-1.cluster.local",
        "IP Address:10.0.0.7",
        "DNS:localhost",
        "IP Address:127.0.0.1",
    ] {
        assert!(names.contains(expected), "{expected} in {names}");
    }

    // Nothing is overwritten; a bad name or role is refused.
    let ca_before = std::fs::read(certs.join("ca.pem")).expect("ca");
    let again = run(&["certs", "init", "--dir", certs_arg]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("nothing was overwritten"),
        "{}",
        stderr(&again)
    );
    assert_eq!(std::fs::read(certs.join("ca.pem")).expect("ca"), ca_before);
    let twice = run(&[
        "certs", "issue", "--dir", certs_arg, "--role", "runner", "--name", "gpu-1",
    ]);
    assert_eq!(twice.status.code(), Some(2));
    let bad = run(&[
        "certs", "issue", "--dir", certs_arg, "--role", "runner", "--name", "../x",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    let role = run(&[
        "certs", "issue", "--dir", certs_arg, "--role", "root", "--name", "x",
    ]);
    assert_eq!(role.status.code(), Some(2));
}
