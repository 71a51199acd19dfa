// The booking service's tables (kept in step with `migrations/`).

diesel::table! {
    clinics (id) {
        id -> Uuid,
        name -> Text,
        timezone -> Text,
        lat -> Float8,
        lon -> Float8,
        service_radius_km -> Float8,
        accepts_referrals -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}
