//! The example front end's static pages carry what the library asks of an app. Kept
//! here, beside the example, so the published library does not depend on its files.

use oidc_leptos::{EARLY_RESTORE_SCRIPT, SILENT_CALLBACK_HTML};

#[test]
fn the_example_serves_the_library_silent_callback_page() {
    let page = include_str!("../../frontend/silent-callback.html");
    assert_eq!(page, SILENT_CALLBACK_HTML);
}

#[test]
fn the_example_page_carries_the_early_restore_script() {
    let page = include_str!("../../frontend/index.html");
    assert!(page.contains(EARLY_RESTORE_SCRIPT.trim_end()));
}
