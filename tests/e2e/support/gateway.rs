//! nginx in front of the separate service processes, configured from
//! `deploy/nginx/spotter.conf` itself: only the upstream addresses and the
//! listen port are rewritten, so the routing under test is the one deployed.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Gateway {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

fn nginx_binary() -> PathBuf {
    [
        "/usr/sbin/nginx",
        "/usr/local/sbin/nginx",
        "/usr/local/nginx/sbin/nginx",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
    .unwrap_or_else(|| PathBuf::from("nginx"))
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The deployed configuration with each `server <name>:8080;` pointed at
/// the local processes of that name (one `server` line each, as a
/// Kubernetes Service spreads over replicas) and `listen 8080;` at `port`.
fn site_config(upstreams: &[(&str, u16)], port: u16) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/nginx/spotter.conf");
    let mut conf = std::fs::read_to_string(&path).unwrap();
    let mut names: Vec<&str> = upstreams.iter().map(|(name, _)| *name).collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        let deployed = format!("server {name}:8080;");
        assert!(
            conf.contains(&deployed),
            "{} has no `{deployed}`",
            path.display()
        );
        let local: Vec<String> = upstreams
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, upstream_port)| format!("server 127.0.0.1:{upstream_port};"))
            .collect();
        conf = conf.replace(&deployed, &local.join("\n    "));
    }
    assert!(conf.contains("listen 8080;"));
    conf.replace("listen 8080;", &format!("listen 127.0.0.1:{port};"))
}

impl Gateway {
    /// Starts nginx routing to `upstreams` (service name → port, a name
    /// repeated for each of its replicas) and waits until it
    /// accepts connections.
    pub fn start(upstreams: &[(&str, u16)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let port = free_port();
        // Workers may run as another user when the tests run as root.
        for sub in ["body", "proxy", "fastcgi", "uwsgi", "scgi"] {
            std::fs::create_dir(root.join(sub)).unwrap();
            std::fs::set_permissions(
                root.join(sub),
                std::os::unix::fs::PermissionsExt::from_mode(0o777),
            )
            .unwrap();
        }
        let main = format!(
            "daemon off;\n\
             master_process off;\n\
             worker_processes 1;\n\
             pid {root}/nginx.pid;\n\
             error_log {root}/error.log warn;\n\
             events {{ worker_connections 512; }}\n\
             http {{\n\
               access_log off;\n\
               client_body_temp_path {root}/body;\n\
               proxy_temp_path {root}/proxy;\n\
               fastcgi_temp_path {root}/fastcgi;\n\
               uwsgi_temp_path {root}/uwsgi;\n\
               scgi_temp_path {root}/scgi;\n\
               {site}\n\
             }}\n",
            root = root.display(),
            site = site_config(upstreams, port),
        );
        let conf = root.join("nginx.conf");
        std::fs::write(&conf, main).unwrap();
        let child = Command::new(nginx_binary())
            .arg("-p")
            .arg(root)
            .arg("-e")
            .arg(root.join("error.log"))
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("starting nginx: {e} (make deps-test installs it: apt-get install nginx)")
            });
        let gateway = Self {
            port,
            child,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx did not start listening on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        gateway
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
