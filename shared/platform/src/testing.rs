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
