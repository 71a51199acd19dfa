//! The two shapes the end-to-end scenarios run against, behind one face:
//! one base URL, tokens its identity provider accepts, and a way to kill the
//! process that holds the booking service.

pub mod gateway;
pub mod processes;

use processes::{ProcessStack, SPOTTER};
use spotter::testing::DevProcess;
use spotter_auth::Role;
use spotter_service::testing::service::Api;
use std::path::Path;
use uuid::Uuid;

#[derive(Clone, Copy, Debug)]
pub enum Shape {
    /// `spotter dev`: the three services in one process, one port.
    Dev,
    /// Three `spotter serve` processes behind nginx.
    Processes,
    /// Two `spotter serve` processes of each service, both behind nginx.
    Replicated,
}

enum Running {
    Dev(DevProcess),
    Processes(ProcessStack),
}

/// The system under test, as the app and the admin tools reach it.
pub struct Stack {
    running: Running,
    /// One base URL in either shape (a restarted process keeps its port);
    /// also reached through `Deref`: `stack.post(…)`.
    api: Api,
}

impl Stack {
    pub async fn start(shape: Shape) -> Self {
        let running = match shape {
            Shape::Dev => Running::Dev(DevProcess::start(Path::new(SPOTTER)).await),
            Shape::Processes => Running::Processes(ProcessStack::start().await),
            Shape::Replicated => Running::Processes(ProcessStack::start_with_replicas(2).await),
        };
        let base_url = match &running {
            Running::Dev(dev) => dev.base_url.clone(),
            Running::Processes(processes) => processes.base_url.clone(),
        };
        Self {
            running,
            api: Api::new(base_url),
        }
    }

    /// Two processes of each service, as `Shape::Replicated`, on the
    /// brokers of `broker_url` (a cluster's nodes, comma-separated).
    pub async fn replicated_on(broker_url: String) -> Self {
        let processes = ProcessStack::start_on(2, Some(broker_url)).await;
        Self {
            api: Api::new(processes.base_url.clone()),
            running: Running::Processes(processes),
        }
    }

    /// SIGKILLs the process running the booking service: the booking
    /// process alone, or in the dev shape the whole stack.
    pub fn kill_booking(&mut self) {
        match &mut self.running {
            Running::Dev(dev) => dev.kill(),
            Running::Processes(processes) => processes.kill("booking"),
        }
    }

    pub fn restart_booking(&mut self) {
        match &mut self.running {
            Running::Dev(dev) => dev.restart(),
            Running::Processes(processes) => processes.restart("booking"),
        }
    }

    /// Everything the service processes logged (the separate-process shape).
    pub fn logs(&self) -> Option<String> {
        match &self.running {
            Running::Processes(processes) => Some(processes.logs()),
            Running::Dev(_) => None,
        }
    }

    /// Runs one SQL statement in `service`'s database, in either shape: the
    /// tests move a due time there instead of waiting for it.
    pub async fn execute(&self, service: &str, sql: &str) -> usize {
        match &self.running {
            Running::Dev(dev) => dev.execute(service, sql).await,
            Running::Processes(processes) => processes.execute(service, sql).await,
        }
    }

    /// The separate processes, to kill and restart any one.
    pub fn processes(&mut self) -> &mut ProcessStack {
        match &mut self.running {
            Running::Processes(processes) => processes,
            Running::Dev(_) => panic!("the dev stack has no process per service"),
        }
    }

    pub fn token(&self, role: Role, sub: Uuid, clinic: Option<Uuid>) -> String {
        match &self.running {
            Running::Dev(dev) => dev.token(role, sub, clinic),
            Running::Processes(processes) => processes.token(role, sub, clinic),
        }
    }
}

impl std::ops::Deref for Stack {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}
