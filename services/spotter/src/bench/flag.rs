//! One flag as the app sends it (`POST /v1/injury-reports`), and the wait
//! for its booking on the broker.

use super::subjects::Slot;
use super::tap::Tap;
use crate::dev_api::Api;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Triage: below 7 is routine, 7 and above urgent (no red flags either way).
pub const ROUTINE_PAIN: u8 = 3;
pub const URGENT_PAIN: u8 = 8;

pub struct Posted {
    pub referral_id: String,
    /// Just before the POST: the flag's clock starts here.
    pub started: Instant,
}

pub enum Outcome {
    Booked {
        latency: Duration,
        at: Instant,
    },
    /// Created, but no booking seen before the deadline.
    NotBooked,
    /// The POST itself failed (not 201, or no answer).
    Failed(String),
}

/// Cheap to clone: one per flag task.
#[derive(Clone)]
pub struct Flagger {
    api: Api,
    tap: Arc<Tap>,
}

impl Flagger {
    pub fn new(api: Api, tap: Arc<Tap>) -> Self {
        Self { api, tap }
    }

    pub async fn post(&self, slot: &Slot, pain: u8) -> anyhow::Result<Posted> {
        let body = json!({
            "client_id": slot.client, "body_region": slot.region, "side": "left",
            "pain_level": pain, "onset_date": chrono::Utc::now().date_naive().to_string(),
            "mechanism": "load benchmark", "description": "flagged by spotter bench",
            "red_flags": [], "consent": {"obtained": true, "method": "in_app"}
        });
        let started = Instant::now();
        let (status, answer) = self
            .api
            .call(
                Method::POST,
                "/v1/injury-reports",
                &slot.trainer,
                Some(&body),
            )
            .await?;
        if status != StatusCode::CREATED {
            anyhow::bail!("{status}: {answer}");
        }
        let referral_id = answer["id"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("201 without an id: {answer}"))?
            .to_owned();
        Ok(Posted {
            referral_id,
            started,
        })
    }

    /// Waits for the posted flag's booking until `deadline`.
    pub async fn booked(&self, posted: &Posted, deadline: Instant) -> Outcome {
        match self.tap.booked_at(&posted.referral_id, deadline).await {
            Some(at) => Outcome::Booked {
                latency: at.saturating_duration_since(posted.started),
                at,
            },
            None => Outcome::NotBooked,
        }
    }

    /// Posts and waits, at most `wait` from the start.
    pub async fn flag(&self, slot: &Slot, pain: u8, wait: Duration) -> Outcome {
        match self.post(slot, pain).await {
            Ok(posted) => self.booked(&posted, posted.started + wait).await,
            Err(err) => Outcome::Failed(format!("{err:#}")),
        }
    }
}
