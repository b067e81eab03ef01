//! A third-party peer as a child process that takes one JSON command per line on stdin and
//! answers each with one JSON line on stdout, the first line being its readiness report: the
//! shape of both the Helia peer (`interop/helia/peer.mjs`) and the Kubo peer
//! (`interop/kubo/peer.py`).

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::Context as _;

/// A running line peer; asked to stop, then killed, when dropped.
pub struct LinePeer {
    name: &'static str,
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    /// What the peer printed first.
    pub ready: serde_json::Value,
}

impl LinePeer {
    /// Starts `command` and waits up to `deadline` for its first line, which must say
    /// `"ready": true`.
    pub fn start(
        name: &'static str,
        mut command: Command,
        deadline: Duration,
    ) -> anyhow::Result<Self> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start the {name} peer"))?;
        let stdin = child.stdin.take().context("piped stdin")?;
        let stdout = child.stdout.take().context("piped stdout")?;
        // One line per command, and the commands go one at a time.
        let (tx, lines) = mpsc::sync_channel(16);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut peer = Self {
            name,
            child,
            stdin,
            lines,
            ready: serde_json::Value::Null,
        };
        peer.ready = peer.answer(deadline)?;
        anyhow::ensure!(
            peer.ready["ready"] == true,
            "the {name} peer started with {}",
            peer.ready
        );
        Ok(peer)
    }

    /// Sends `command` and waits up to `deadline` for the answer; an `{"error": …}` answer is
    /// an error.
    pub fn ask(
        &mut self,
        command: serde_json::Value,
        deadline: Duration,
    ) -> anyhow::Result<serde_json::Value> {
        writeln!(self.stdin, "{command}")
            .with_context(|| format!("cannot write to the {} peer", self.name))?;
        let answer = self.answer(deadline)?;
        if let Some(error) = answer.get("error") {
            let error = error
                .as_str()
                .map_or_else(|| error.to_string(), str::to_owned);
            anyhow::bail!("{}: {error}", self.name);
        }
        Ok(answer)
    }

    fn answer(&mut self, deadline: Duration) -> anyhow::Result<serde_json::Value> {
        let line = self
            .lines
            .recv_timeout(deadline)
            .with_context(|| format!("the {} peer did not answer", self.name))?;
        serde_json::from_str(&line)
            .with_context(|| format!("the {} peer answered {line:?}", self.name))
    }
}

impl Drop for LinePeer {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "{}", serde_json::json!({"cmd": "stop"}));
        let _ = self.lines.recv_timeout(Duration::from_secs(5));
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
