//! Helpers for test fixtures.

/// Runs `work` to completion on a runtime of its own, on a thread of its own.
///
/// Test fixtures clean up in `Drop`, which cannot await and may itself run
/// inside a runtime (where `block_on` would panic); a fresh thread can do both.
pub fn block_on_own_thread<F>(work: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let _ = std::thread::spawn(move || {
        if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            runtime.block_on(work);
        }
    })
    .join();
}

/// Every value a request may carry, as the OpenAPI document describes it, must
/// say what the server accepts: strings an `enum`, a `format` or a
/// `maxLength`; integers and numbers a `minimum` and a `maximum`; arrays a
/// `maxItems`. Returns each place that does not, as `operation: path`.
pub fn unconstrained_request_values(document: &serde_json::Value) -> Vec<String> {
    let mut found = Vec::new();
    let Some(paths) = document["paths"].as_object().filter(|p| !p.is_empty()) else {
        // A document with no operations would pass for the wrong reason.
        return vec!["the document has no paths".to_owned()];
    };
    for (path, operations) in paths {
        let Some(operations) = operations.as_object() else {
            continue;
        };
        for (method, operation) in operations {
            let name = format!("{} {path}", method.to_uppercase());
            let body = &operation["requestBody"]["content"]["application/json"]["schema"];
            if !body.is_null() {
                walk(document, body, &format!("{name}: body"), &mut found, 0);
            }
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                // Headers are the transport's (Idempotency-Key): not request data.
                if parameter["in"] != "header" {
                    let field = parameter["name"].as_str().unwrap_or("?");
                    walk(
                        document,
                        &parameter["schema"],
                        &format!("{name}: {field}"),
                        &mut found,
                        0,
                    );
                }
            }
        }
    }
    found
}

fn walk(
    document: &serde_json::Value,
    schema: &serde_json::Value,
    at: &str,
    found: &mut Vec<String>,
    depth: usize,
) {
    if depth > 20 {
        return;
    }
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        let target = &document["components"]["schemas"][name];
        if target.is_null() {
            found.push(format!("{at} (unresolved {reference})"));
            return;
        }
        return walk(document, target, at, found, depth + 1);
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        for part in schema[key].as_array().into_iter().flatten() {
            walk(document, part, at, found, depth + 1);
        }
    }
    let kinds: Vec<&str> = match &schema["type"] {
        serde_json::Value::String(kind) => vec![kind.as_str()],
        serde_json::Value::Array(kinds) => kinds.iter().filter_map(|k| k.as_str()).collect(),
        _ => Vec::new(),
    };
    let has = |key: &str| !schema[key].is_null();
    for kind in kinds {
        let constrained = match kind {
            "string" => has("enum") || has("format") || has("maxLength"),
            "integer" | "number" => {
                (has("minimum") || has("exclusiveMinimum"))
                    && (has("maximum") || has("exclusiveMaximum"))
            }
            "array" => has("maxItems"),
            _ => true,
        };
        if !constrained {
            found.push(format!("{at} ({kind})"));
        }
    }
    if let Some(properties) = schema["properties"].as_object() {
        for (field, property) in properties {
            walk(
                document,
                property,
                &format!("{at}.{field}"),
                found,
                depth + 1,
            );
        }
    }
    if schema["items"].is_object() {
        walk(
            document,
            &schema["items"],
            &format!("{at}[]"),
            found,
            depth + 1,
        );
    }
}
