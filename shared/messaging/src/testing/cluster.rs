//! The three-node RabbitMQ cluster of `deploy/local/rabbitmq-cluster.sh`, for
//! the serial tests that stop one of its nodes under load.

use std::path::PathBuf;
use std::process::Command;

/// The cluster for one test: started (or found running) by the script, and
/// stopped, whatever the test did, when dropped.
pub struct LocalCluster {
    /// The nodes' AMQP URLs, comma-separated, as `SPOTTER_BROKER__URL` takes them.
    pub urls: String,
}

fn script_command() -> Command {
    let mut command = Command::new("bash");
    command.arg(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/local/rabbitmq-cluster.sh"),
    );
    command
}

/// Runs the script and returns what it printed; panics, with its output,
/// when it fails.
fn cluster_script(args: &[&str]) -> String {
    let output = script_command()
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running rabbitmq-cluster.sh: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "rabbitmq-cluster.sh {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

impl LocalCluster {
    pub fn start() -> Self {
        let said = cluster_script(&["start"]);
        let urls = said
            .lines()
            .find_map(|line| line.trim().strip_prefix("SPOTTER_BROKER__URL="))
            .unwrap_or_else(|| panic!("no URL list in:\n{said}"))
            .to_owned();
        Self { urls }
    }

    /// Which node (1, 2 or 3) leads `queue`.
    pub fn leader_of(&self, queue: &str) -> String {
        let said = cluster_script(&["leader-of", queue]);
        let node = said.trim();
        ["1", "2", "3"]
            .into_iter()
            .find(|n| node.contains(&format!("spotter-c{n}@")))
            .unwrap_or_else(|| panic!("no cluster node leads {queue}: {said}"))
            .to_owned()
    }

    /// Shuts node `n` down cleanly and waits until its port is closed.
    pub fn stop_node(&self, n: &str) {
        print!("{}", cluster_script(&["stop-node", n]));
    }

    /// Starts node `n` again; it rejoins the cluster by itself.
    pub fn start_node(&self, n: &str) {
        print!("{}", cluster_script(&["start-node", n]));
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        // Stopped whatever the test did: never leave three nodes running.
        let _ = script_command().arg("stop").status();
    }
}
