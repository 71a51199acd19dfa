//! The machine's side: a process's memory, and what PostgreSQL itself does
//! on this machine (pgbench), the yardstick the stack's throughput is read
//! against. Both are measured in the same run, so the ratio holds on any
//! machine, fast or slow.

use super::PgArgs;
use anyhow::{Context, bail};
use tokio::process::Command;

pub struct Rss {
    rss_kb: u64,
    hwm_kb: u64,
}

impl Rss {
    pub fn rss_mb(&self) -> f64 {
        self.rss_kb as f64 / 1024.0
    }
    pub fn hwm_mb(&self) -> f64 {
        self.hwm_kb as f64 / 1024.0
    }
}

/// VmRSS (resident now) and VmHWM (its peak) from `/proc/<pid>/status`.
pub fn rss(pid: u32) -> anyhow::Result<Rss> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("no process {pid}"))?;
    let field = |name: &str| -> anyhow::Result<u64> {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no {name} in /proc/{pid}/status"))
    };
    Ok(Rss {
        rss_kb: field("VmRSS:")?,
        hwm_kb: field("VmHWM:")?,
    })
}

/// How `pid` was started (`/proc/<pid>/cmdline`, its program's file name
/// and arguments), so a printed memory figure says which process it is.
pub fn command_line(pid: u32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    raw.split(|&b| b == 0)
        .filter(|word| !word.is_empty())
        .enumerate()
        .map(|(i, word)| {
            let word = String::from_utf8_lossy(word);
            // The program by its file name; its folder says nothing here.
            match i {
                0 => word.rsplit('/').next().unwrap_or_default().to_owned(),
                _ => word.into_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// TPC-B-like without the contended branch/teller updates (`-N`), 8 clients
/// on 2 threads, on a freshly initialised scratch database: transactions
/// per second.
pub async fn pgbench(pg: &PgArgs, scale: u32, secs: u32) -> anyhow::Result<f64> {
    let connection = |command: &mut Command| {
        command
            .arg("-h")
            .arg(&pg.pg_host)
            .arg("-p")
            .arg(pg.pg_port.to_string())
            .arg("-U")
            .arg(&pg.pg_user);
    };
    let mut createdb = Command::new("createdb");
    connection(&mut createdb);
    let created = createdb.arg(&pg.pgbench_db).output().await;
    if let Ok(out) = &created
        && !out.status.success()
        && !String::from_utf8_lossy(&out.stderr).contains("already exists")
    {
        bail!("createdb: {}", String::from_utf8_lossy(&out.stderr).trim());
    }

    let mut init = Command::new(&pg.pgbench);
    connection(&mut init);
    let out = init
        .args(["-i", "-q", "-s", &scale.to_string()])
        .arg(&pg.pgbench_db)
        .output()
        .await
        .with_context(|| format!("running {}", pg.pgbench.display()))?;
    if !out.status.success() {
        bail!(
            "pgbench -i: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }

    let mut run = Command::new(&pg.pgbench);
    connection(&mut run);
    let out = run
        .args(["-N", "-c", "8", "-j", "2", "-T", &secs.to_string()])
        .arg(&pg.pgbench_db)
        .output()
        .await?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "pgbench: {} {}",
            stdout.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    parse_tps(&stdout).with_context(|| format!("no `tps = …` in pgbench's output:\n{stdout}"))
}

/// `tps = 1234.567890 (without initial connection time)`
fn parse_tps(output: &str) -> Option<f64> {
    output
        .lines()
        .find_map(|line| line.trim().strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::parse_tps;

    #[test]
    fn reads_the_tps_line() {
        let out = "number of failed transactions: 0 (0.000%)\nlatency average = 3.1 ms\n\
                   initial connection time = 12.3 ms\ntps = 2571.402112 (without initial connection time)\n";
        assert_eq!(parse_tps(out), Some(2571.402112));
        assert_eq!(parse_tps("nothing here"), None);
    }
}
