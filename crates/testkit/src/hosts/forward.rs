//! A TCP forward from a host's loopback to an address of the root namespace, run by a
//! thread of the test process: the listening socket is made inside the host's network
//! namespace (a socket stays in the namespace it was made in), then the thread returns to
//! the root namespace, where it connects each accepted client to the target.

use std::fs::File;
use std::io;
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use nix::sched::{CloneFlags, setns};

use crate::error::Error;

/// A running forward; stopped (no more accepts) by [`Forward::stop`] or on drop.
#[derive(Debug)]
pub(super) struct Forward {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Forward {
    /// Listens on `127.0.0.1:port` inside `netns` and forwards each connection to `target`.
    pub(super) fn start(netns: &str, port: u16, target: SocketAddr) -> Result<Self, Error> {
        let listener = listen_in(netns, port)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name(format!("forward {netns}:{port}"))
            .spawn(move || accept_loop(&listener, target, &stopping))
            .map_err(|source| io_error(netns, source))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }

    pub(super) fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Forward {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Binds in `netns` from a short-lived thread, so the caller's thread never changes
/// namespace.
fn listen_in(netns: &str, port: u16) -> Result<TcpListener, Error> {
    let path = format!("/run/netns/{netns}");
    let namespace = File::open(&path).map_err(|source| io_error(&path, source))?;
    let name = netns.to_owned();
    let bind = move || -> Result<TcpListener, Error> {
        setns(&namespace, CloneFlags::CLONE_NEWNET).map_err(|source| Error::Setns {
            netns: name.clone(),
            source,
        })?;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|source| io_error(&format!("{name} 127.0.0.1:{port}"), source))?;
        Ok(listener)
    };
    std::thread::spawn(bind)
        .join()
        .unwrap_or_else(|_| panic!("the thread binding in {netns} panicked"))
}

fn accept_loop(listener: &TcpListener, target: SocketAddr, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((client, _)) => {
                std::thread::spawn(move || relay(client, target));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Copies both ways until either side closes.
fn relay(client: TcpStream, target: SocketAddr) {
    let _ = client.set_nonblocking(false);
    let Ok(upstream) = TcpStream::connect_timeout(&target, Duration::from_secs(5)) else {
        return;
    };
    let (Ok(mut client_read), Ok(mut upstream_write)) = (client.try_clone(), upstream.try_clone())
    else {
        return;
    };
    let (mut client_write, mut upstream_read) = (client, upstream);
    let up = std::thread::spawn(move || {
        let _ = io::copy(&mut client_read, &mut upstream_write);
        let _ = upstream_write.shutdown(Shutdown::Write);
    });
    let _ = io::copy(&mut upstream_read, &mut client_write);
    let _ = client_write.shutdown(Shutdown::Write);
    let _ = up.join();
}

fn io_error(what: &str, source: io::Error) -> Error {
    Error::Io {
        path: what.into(),
        source,
    }
}
