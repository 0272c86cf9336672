//! Tokens and projects through the real binaries: `aide serve` writes its first admin token
//! to a 0600 file; `aide login` keeps a token for a server; `aide admin` makes projects and
//! tokens; every client command is scoped to its token's project (another project's run is
//! "no run"), roles limit what a token does, and a revoked token is refused within seconds.
//! No token secret ever reaches the server's log.

use std::time::{Duration, Instant};

use crate::serve_support::{Server, client};
use crate::support::{stderr, stdout};

/// A token made with `aide admin token create`.
fn new_token(server: &Server, project: &str, role: &str) -> String {
    let made = server.client(&[
        "admin",
        "token",
        "create",
        "--project",
        project,
        "--role",
        role,
        "--expires",
        "1d",
    ]);
    assert_eq!(made.status.code(), Some(0), "{}", stderr(&made));
    let token = stdout(&made);
    assert!(token.starts_with("aide_") && token.len() == 69, "{token}");
    token
}

#[test]
fn tokens_scope_every_command_to_its_project() {
    let Some(server) = Server::start() else {
        return;
    };
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(server.token_file())
            .expect("token file")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "the bootstrap token file is private");

    // No token: refused, saying what to do.
    let anonymous = client(&server.url, &["ls"]);
    assert_eq!(anonymous.status.code(), Some(2));
    assert!(
        stderr(&anonymous).contains("aide login"),
        "{}",
        stderr(&anonymous)
    );

    // `aide login` keeps the token for the server; later commands need no AIDE_TOKEN.
    let config = tempfile::tempdir().expect("config dir");
    let login = crate::support::aide()
        .env("XDG_CONFIG_HOME", config.path())
        .args(["login", "--server", &server.url, "--token-file"])
        .arg(server.token_file())
        .output()
        .expect("aide login");
    assert_eq!(login.status.code(), Some(0), "{}", stderr(&login));
    assert!(
        stderr(&login).contains("admin of project default"),
        "{}",
        stderr(&login)
    );
    let saved = config.path().join("aide/credentials.toml");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&saved)
            .expect("credentials")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let listed = crate::support::aide()
        .env("XDG_CONFIG_HOME", config.path())
        .args(["ls", "--server", &server.url])
        .output()
        .expect("aide ls");
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));

    // A project of its own, with a member and a viewer.
    assert_eq!(
        server
            .client(&["admin", "project", "create", "team-b"])
            .status
            .code(),
        Some(0)
    );
    let duplicate = server.client(&["admin", "project", "create", "team-b"]);
    assert_eq!(
        duplicate.status.code(),
        Some(2),
        "an existing project is refused"
    );
    let member = new_token(&server, "team-b", "member");
    let viewer = new_token(&server, "team-b", "viewer");
    let viewer_cannot = server.client_as(&viewer, &["admin", "project", "ls"]);
    assert_eq!(viewer_cannot.status.code(), Some(2));

    let submitted = server.client_as(
        &member,
        &[
            "submit",
            "examples/diabetes",
            "--steps",
            "50",
            "--name",
            "b-run",
        ],
    );
    assert_eq!(submitted.status.code(), Some(0), "{}", stderr(&submitted));
    let run = stdout(&submitted);

    // Another project's run does not exist for the default project's admin.
    for args in [
        vec!["status", run.as_str()],
        vec!["cancel", run.as_str()],
        vec![
            "export",
            run.as_str(),
            "--format",
            "journal",
            "--out",
            "/tmp/aide-not-written",
        ],
    ] {
        let out = server.client(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&out).contains(&format!("no run {run}")),
            "{}",
            stderr(&out)
        );
    }
    let admin_list = stdout(&server.client(&["ls", "--json"]));
    assert!(!admin_list.contains(&run), "{admin_list}");
    let b_list = stdout(&server.client_as(&viewer, &["ls", "--json"]));
    assert!(b_list.contains(&run), "{b_list}");

    // A viewer reads but does not cancel; the member does.
    let refused = server.client_as(&viewer, &["cancel", &run]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("not allowed"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(
        server.client_as(&member, &["cancel", &run]).status.code(),
        Some(0)
    );

    // A revoked token is refused within seconds.
    let listed = stdout(&server.client(&["admin", "token", "ls", "--project", "team-b"]));
    let member_id = listed
        .lines()
        .find(|l| l.contains("\tmember\t"))
        .and_then(|l| l.split('\t').next())
        .expect("the member's row")
        .to_owned();
    assert_eq!(
        server
            .client(&["admin", "token", "revoke", &member_id])
            .status
            .code(),
        Some(0)
    );
    let revoked_at = Instant::now();
    loop {
        let out = server.client_as(&member, &["ls"]);
        if out.status.code() == Some(2) {
            break;
        }
        assert!(
            revoked_at.elapsed() < Duration::from_secs(5),
            "still accepted after 5 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let log = server.log();
    for secret in [&server.token, &member, &viewer] {
        assert!(
            !log.contains(&secret[5..]),
            "a token reached the server's log"
        );
    }
}

/// The API from another ecosystem: a Python client generated from `proto/` with grpcio-tools
/// connects over TLS (checking the server's certificate with the cluster CA), is refused
/// without a token and lists the project's runs with one.
#[test]
fn a_python_client_generated_from_the_protos_lists_runs_with_a_token() {
    if aide_testkit::python::require_modules("grpc_tools.protoc", "bash deploy/dev/python-grpc.sh")
        .is_none()
    {
        return;
    }
    let Some(server) = Server::start_tls() else {
        return;
    };
    let submitted = server.client(&["submit", "examples/diabetes", "--steps", "50"]);
    assert_eq!(submitted.status.code(), Some(0), "{}", stderr(&submitted));
    let run = stdout(&submitted);

    let stubs = tempfile::tempdir().expect("stubs dir");
    let proto = aide_testkit::repo_root().join("proto");
    let protos: Vec<String> = std::fs::read_dir(proto.join("aide/v1"))
        .expect("protos")
        .map(|e| {
            format!(
                "aide/v1/{}",
                e.expect("entry").file_name().to_string_lossy()
            )
        })
        .collect();
    let generated = std::process::Command::new("python3")
        .args(["-m", "grpc_tools.protoc", "-I"])
        .arg(&proto)
        .arg(format!("--python_out={}", stubs.path().display()))
        .arg(format!("--grpc_python_out={}", stubs.path().display()))
        .args(&protos)
        .output()
        .expect("protoc");
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );

    let script = r#"
import sys, grpc
sys.path.insert(0, sys.argv[1])
from aide.v1 import coordinator_pb2, coordinator_pb2_grpc
ca = open(sys.argv[4], "rb").read()
channel = grpc.secure_channel(sys.argv[2], grpc.ssl_channel_credentials(root_certificates=ca))
stub = coordinator_pb2_grpc.CoordinatorStub(channel)
try:
    stub.ListRuns(coordinator_pb2.ListRunsRequest())
    print("anonymous OK")
except grpc.RpcError as e:
    print("anonymous", e.code().name)
listed = stub.ListRuns(coordinator_pb2.ListRunsRequest(),
                       metadata=[("authorization", "Bearer " + sys.argv[3])])
print("runs", " ".join(r.id for r in listed.runs))
"#;
    let target = server.url.trim_start_matches("https://").to_owned();
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(stubs.path())
        .arg(&target)
        .arg(&server.token)
        .arg(server.ca.as_ref().expect("a TLS server"))
        .output()
        .expect("python client");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("anonymous UNAUTHENTICATED"), "{text}");
    assert!(text.contains(&format!("runs {run}")), "{text}");
    assert_eq!(server.client(&["cancel", &run]).status.code(), Some(0));
}
