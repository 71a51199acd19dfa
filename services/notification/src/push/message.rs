//! What a push says: the notification's title and body (no health detail:
//! docs/architecture.md, "HTTP conventions") and the ids the app opens with
//! its own token.

use crate::notices::NoticeKind;
use serde_json::Value;
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushMessage {
    pub title: String,
    pub body: String,
    /// String values only (FCM refuses others): `notification_id`, `kind`
    /// and the notification's ids (`referral_id`, `appointment_id`, …).
    pub data: BTreeMap<String, String>,
    /// Pushes about one referral replace each other on the lock screen.
    pub collapse_key: String,
    /// High priority: delivered at once, even to a dozing phone.
    pub urgent: bool,
}

impl PushMessage {
    pub fn new(
        notification_id: Uuid,
        kind: NoticeKind,
        title: &str,
        body: &str,
        data: &Value,
    ) -> Self {
        let mut fields: BTreeMap<String, String> = data
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| {
                let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                (k.clone(), text)
            })
            .collect();
        fields.insert("notification_id".into(), notification_id.to_string());
        fields.insert("kind".into(), kind.as_str().to_owned());
        let collapse_key = fields
            .get("referral_id")
            .cloned()
            .unwrap_or_else(|| notification_id.to_string());
        Self {
            title: title.to_owned(),
            body: body.to_owned(),
            data: fields,
            collapse_key,
            urgent: kind.is_time_critical(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_become_strings_and_the_referral_collapses_pushes() {
        let id = Uuid::now_v7();
        let referral = Uuid::now_v7();
        let m = PushMessage::new(
            id,
            NoticeKind::GuidanceShared,
            "Guidance shared",
            "Open the app to read it.",
            &json!({"referral_id": referral, "version": 2, "nothing": null}),
        );
        assert_eq!(m.collapse_key, referral.to_string());
        assert_eq!(m.data["version"], "2");
        assert_eq!(m.data["kind"], "guidance_shared");
        assert_eq!(m.data["notification_id"], id.to_string());
        assert!(!m.data.contains_key("nothing"));
        assert!(!m.urgent);
    }

    #[test]
    fn time_critical_kinds_are_urgent_and_a_lone_notice_collapses_on_itself() {
        let id = Uuid::now_v7();
        let m = PushMessage::new(id, NoticeKind::AppointmentCancelled, "t", "b", &json!({}));
        assert!(m.urgent);
        assert_eq!(m.collapse_key, id.to_string());
    }
}
