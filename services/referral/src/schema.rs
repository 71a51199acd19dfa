// The referral service's tables (kept in step with `migrations/`).

diesel::table! {
    trainers (id) {
        id -> Uuid,
        display_name -> Text,
        lat -> Float8,
        lon -> Float8,
        certifications -> Array<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}
