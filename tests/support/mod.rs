//! The two shapes the end-to-end scenarios run against, behind one face.

#![allow(dead_code)]

pub mod gateway;
pub mod processes;

use processes::ProcessStack;
use spotter::testing::TestStack;
use spotter_auth::Role;
use uuid::Uuid;

/// The system under test, as the app and the admin tools reach it: one base URL.
pub enum Stack {
    /// `spotter dev`'s stack: the three services in one process, one port.
    Dev(TestStack),
    /// Three `spotter serve` processes behind nginx.
    Processes(ProcessStack),
}

#[derive(Clone, Copy, Debug)]
pub enum Shape {
    Dev,
    Processes,
}

impl Stack {
    pub async fn start(shape: Shape) -> Self {
        match shape {
            Shape::Dev => Self::Dev(TestStack::start().await),
            Shape::Processes => Self::Processes(ProcessStack::start().await),
        }
    }

    /// The separate processes, to kill and restart one.
    pub fn processes(&mut self) -> &mut ProcessStack {
        match self {
            Self::Processes(processes) => processes,
            Self::Dev(_) => panic!("the dev stack has no process per service"),
        }
    }

    fn base_url(&self) -> &str {
        match self {
            Self::Dev(stack) => &stack.base_url,
            Self::Processes(stack) => &stack.base_url,
        }
    }

    fn client(&self) -> &reqwest::Client {
        match self {
            Self::Dev(stack) => &stack.client,
            Self::Processes(stack) => &stack.client,
        }
    }

    pub fn token(&self, role: Role, sub: Uuid, clinic: Option<Uuid>) -> String {
        match self {
            Self::Dev(stack) => stack.token(role, sub, clinic),
            Self::Processes(stack) => stack.token(role, sub, clinic),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<&serde_json::Value>,
    ) -> reqwest::Response {
        let mut request = self
            .client()
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.unwrap()
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.send(reqwest::Method::GET, path, token, None).await
    }

    pub async fn post(
        &self,
        path: &str,
        token: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        self.send(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    pub async fn put(
        &self,
        path: &str,
        token: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        self.send(reqwest::Method::PUT, path, token, Some(body))
            .await
    }
}
