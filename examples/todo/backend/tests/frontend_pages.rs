//! The example front ends' static pages carry what the library asks of an app. Kept
//! here, beside the examples, so the published library does not depend on their files.

use oidc_leptos::{EARLY_RESTORE_SCRIPT, SILENT_CALLBACK_HTML};

/// The TODO app's pages and the minimal app's, in that order.
const SILENT_CALLBACK_PAGES: [&str; 2] = [
    include_str!("../../frontend/silent-callback.html"),
    include_str!("../../../minimal/silent-callback.html"),
];
const INDEX_PAGES: [&str; 2] = [
    include_str!("../../frontend/index.html"),
    include_str!("../../../minimal/index.html"),
];

#[test]
fn the_examples_serve_the_library_silent_callback_page() {
    for page in SILENT_CALLBACK_PAGES {
        assert_eq!(page, SILENT_CALLBACK_HTML);
    }
}

#[test]
fn the_example_pages_carry_the_early_restore_script() {
    for page in INDEX_PAGES {
        assert!(page.contains(EARLY_RESTORE_SCRIPT.trim_end()));
    }
}
