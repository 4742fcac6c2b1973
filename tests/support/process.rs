//! Emulator processes: finding their binaries, and the port they bind.

use std::process::Command;
use std::time::Duration;

/// `$env` if set, else `name` found on the PATH.
pub fn on_path(env: &str, name: &str) -> Option<String> {
    if let Ok(b) = std::env::var(env) {
        return Some(b);
    }
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .ok()?;
    let path = String::from_utf8_lossy(&found.stdout).trim().to_owned();
    (!path.is_empty()).then_some(path)
}

/// Root runs the database servers as their own OS users (they refuse root).
pub fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Gives `dir` (recursively) to the `postgres` OS user, for servers run
/// as that user when the tests run as root.
pub fn give_to_postgres(dir: &std::path::Path) {
    let ok = Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(dir)
        .status()
        .unwrap();
    assert!(ok.success(), "chown of {} failed", dir.display());
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The port a server started with port 0 prints ("... http://127.0.0.1:PORT"
/// on `stream`). Asking for port 0 is what makes the port the server's own:
/// a port picked here, released and bound later can be taken meanwhile by
/// another test's server, and this test would talk to that one. The stream
/// is read to its end in the background (servers log requests there, and a
/// full pipe would stall them).
pub fn announced_port(stream: impl std::io::Read + Send + 'static, what: &str) -> u16 {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        let mut tx = Some(tx);
        for line in std::io::BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            let port = line
                .split("http://127.0.0.1:")
                .nth(1)
                .and_then(|p| p.trim().parse::<u16>().ok());
            if let Some(port) = port {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(port);
                }
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("{what} did not say its port within 30 s"))
}

/// Sends SIGINT (Ctrl-C) to `child`.
pub fn interrupt(child: &tokio::process::Child) {
    let pid = child.id().expect("the child runs").to_string();
    let sent = Command::new("kill").args(["-INT", &pid]).status();
    assert!(sent.is_ok_and(|s| s.success()), "kill -INT {pid}");
}

/// Runs `cmd`, failing the test with its output unless it succeeds; its
/// standard output.
pub fn must(cmd: &mut std::process::Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
