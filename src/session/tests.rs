//! The session machine against a fake provider, in virtual time.
#![allow(clippy::unwrap_used)]

mod harness;
mod model;

use crate::core::IdTokenError;
use harness::*;

use super::machine::{activity_replaces, Command, Event, TabMessage, ACTIVE_WINDOW_MS};
use super::*;

#[test]
fn first_visit_restores_through_the_frame_and_stays_signed_out_without_idp_session() {
    let idp = Idp::new();
    let mut tab = Tab::new(&idp, "/todos");
    tab.start();
    // Discovery, then the hidden frame asks with prompt=none: no provider session.
    assert!(tab.state().is_pending() || matches!(tab.state(), AuthState::LoggedOut));
    tab.run();
    assert_eq!(tab.state(), AuthState::LoggedOut);
    assert_eq!(tab.frames_opened, 1);
    assert!(tab
        .published
        .iter()
        .all(|s| !matches!(s, AuthState::Failed(_))));
}

#[test]
fn interactive_login_signs_in_and_returns_to_the_path() {
    let idp = Idp::new();
    let mut tab = Tab::new(&idp, "/todos");
    tab.start();
    tab.run();
    let mut tab = tab.login_as("alice");
    assert_eq!(tab.user().as_deref(), Some("alice"));
    assert_eq!(tab.url, "/todos");
    // No token ever reaches storage.
    for value in tab.storage_values() {
        assert!(!value.contains(&idp.last_access_token()), "{value}");
    }
    // The first sign-in tells the other tabs.
    assert!(tab.broadcasts.contains(&TabMessage::Login));
    assert!(matches!(tab.broadcasts.last(), Some(TabMessage::User(_))));
    assert!(tab.token().is_ok());
}

#[test]
fn reload_restores_through_the_frame_with_two_provider_requests() {
    let idp = Idp::new();
    let tab = signed_in(&idp);
    let before = idp.requests();
    let mut reloaded = tab.reload();
    reloaded.start();
    reloaded.run();
    assert_eq!(reloaded.user().as_deref(), Some("alice"));
    // The frame's authorization request and the code exchange: the metadata and keys
    // come from this tab's session storage.
    let paths = idp.paths_since(before);
    assert_eq!(paths, vec!["/auth", "/token"]);
    assert!(!reloaded
        .published
        .iter()
        .any(|s| matches!(s, AuthState::LoggedOut)));
}

#[test]
fn cross_site_provider_restores_through_a_top_level_redirect_only_after_a_sign_in() {
    let idp = Idp::new();
    let mut tab = Tab::with_origin(&idp, "http://127.0.0.1:3000", "/");
    tab.start();
    tab.run();
    // Never signed in here: no redirect, signed out at once.
    assert_eq!(tab.state(), AuthState::LoggedOut);
    assert!(tab.navigations.is_empty());
    assert_eq!(tab.frames_opened, 0);

    let tab = tab.login_as("alice");
    let mut reloaded = tab.reload();
    reloaded.start();
    reloaded.run();
    let nav = reloaded.navigations.last().cloned().unwrap();
    assert!(nav.contains("prompt=none"), "{nav}");
    let mut back = reloaded.follow_redirect();
    back.run();
    assert_eq!(back.user().as_deref(), Some("alice"));
}

#[test]
fn a_top_level_silent_sign_in_comes_back_to_the_page_it_left() {
    let idp = Idp::new();
    // A tab signed out before any sign-in.
    let mut other = Tab::with_origin(&idp, "http://127.0.0.1:3000", "/done");
    other.tab_id = "b".into();
    other.start();
    other.run();
    assert_eq!(other.state(), AuthState::LoggedOut);

    let page = "/todos/42?filter=open";
    let mut tab = Tab::with_origin(&idp, "http://127.0.0.1:3000", "/todos/42");
    tab.query = "?filter=open".into();
    tab.start();
    tab.run();
    let tab = tab.login_as("alice");
    assert_eq!(tab.url, page);
    // A reload restores through the provider, and lands on the same page.
    let mut back = tab.load_again().follow_redirect();
    back.run();
    assert_eq!(back.user().as_deref(), Some("alice"));
    assert_eq!(back.url, page);

    // The other tab hears of the sign-in, on a page it moved to meanwhile.
    other.dispatch(login_heard("a", "/done?page=2"));
    comes_back_signed_in_to(&other, "/done?page=2");
}

/// Another tab's sign-in, heard by a tab on page `here`.
fn login_heard(from: &str, here: &str) -> Event {
    Event::Tab {
        from: from.into(),
        message: TabMessage::Login,
        here: here.into(),
    }
}

/// `tab`'s silent redirect comes back to `url`, signed in as alice.
fn comes_back_signed_in_to(tab: &harness::Tab, url: &str) {
    let mut back = tab.follow_redirect();
    back.run();
    assert_eq!(back.user().as_deref(), Some("alice"));
    assert_eq!(back.url, url);
}

#[test]
fn a_tab_still_discovering_the_provider_follows_another_tabs_sign_in() {
    let idp = Idp::new();
    // A first visit on another site: nothing to restore, the provider being read.
    let mut tab = Tab::with_origin(&idp, "http://127.0.0.1:3000", "/done");
    tab.tab_id = "b".into();
    tab.hold_fetches = true;
    tab.start();
    tab.run();
    assert_eq!(tab.state(), AuthState::Pending);
    // Another tab signs in, while this one is on another page.
    let mut other = Tab::with_origin(&idp, "http://127.0.0.1:3000", "/");
    other.start();
    other.run();
    let other = other.login_as("alice");
    tab.dispatch(login_heard(&other.tab_id, "/done?page=2"));
    tab.hold_fetches = false;
    tab.release_all();
    comes_back_signed_in_to(&tab, "/done?page=2");
}

#[test]
fn a_top_level_silent_sign_in_refused_signs_out_once_and_not_again_on_reload() {
    let idp = Idp::new();
    let reloaded = signed_in_across_sites(&idp, "/").load_again();
    idp.set_authorize_error(Some("access_denied"));
    let mut back = reloaded.follow_redirect();
    back.run();
    assert_eq!(back.state(), AuthState::LoggedOut);
    // The next load does not try again (and fail again).
    let again = back.load_again();
    assert_eq!(again.state(), AuthState::LoggedOut);
    assert!(again.navigations.is_empty(), "{:?}", again.navigations);
}

#[test]
fn a_top_level_silent_sign_in_met_by_a_busy_provider_is_tried_again_on_reload() {
    let idp = Idp::new();
    let reloaded = signed_in_across_sites(&idp, "/").load_again();
    idp.set_authorize_error(Some("temporarily_unavailable"));
    let mut back = reloaded.follow_redirect();
    back.run();
    assert_eq!(back.state(), AuthState::LoggedOut);
    // The provider is back: the next load signs in silently.
    idp.set_authorize_error(None);
    let again = back.load_again();
    assert!(!again.navigations.is_empty(), "tried again");
    let mut restored = again.follow_redirect();
    restored.run();
    assert_eq!(restored.user().as_deref(), Some("alice"));
}

#[test]
fn sign_in_redirects_leave_no_history_entry_where_back_would_send_the_user_on_again() {
    let idp = Idp::new();
    let mut tab = Tab::new(&idp, "/");
    tab.start();
    tab.run();
    // The user asked: the page stays in history.
    tab.dispatch(Event::Login(LoginOptions::default()));
    assert_eq!(tab.replaced.last(), Some(&false));
    // A guard asked, from a page that only sends the user on.
    let mut guarded = Tab::new(&idp, "/todos");
    guarded.tab_id = "b".into();
    guarded.start();
    guarded.run();
    guarded.dispatch(Event::Login(LoginOptions::default().replace_history(true)));
    assert_eq!(guarded.replaced.last(), Some(&true));
    // A silent restore through a top-level redirect.
    let mut cross = Tab::with_origin(&idp, "http://127.0.0.1:3000", "/");
    cross.start();
    cross.run();
    let cross = cross.login_as("alice");
    let mut reloaded = cross.reload();
    reloaded.start();
    reloaded.run();
    assert!(reloaded.navigations.last().unwrap().contains("prompt=none"));
    assert_eq!(reloaded.replaced.last(), Some(&true));
}

#[test]
fn back_from_the_provider_into_the_cached_page_loads_it_afresh() {
    let idp = Idp::new();
    let mut tab = signed_out(&idp);
    tab.dispatch(Event::Login(LoginOptions::default()));
    assert!(tab.state().is_pending());
    // The browser shows the page, still leaving, from its back-forward cache.
    tab.dispatch(restored(&idp));
    assert_eq!(tab.reloads, 1);
    assert!(
        tab.state().is_pending(),
        "no signed-out flash before the load"
    );
    // A signed-in page comes back as it was.
    let mut tab = signed_in(&idp);
    tab.dispatch(restored(&idp));
    assert_eq!(tab.reloads, 0);
    assert!(tab.state().is_logged_in());
}

#[test]
fn a_silent_redirect_answered_login_required_ends_signed_out_without_a_loop() {
    let idp = Idp::new();
    let mut tab = Tab::with_origin(&idp, "http://127.0.0.1:3000", "/");
    tab.start();
    tab.run();
    let tab = tab.login_as("alice");
    idp.end_sessions();
    let mut reloaded = tab.reload();
    reloaded.start();
    reloaded.run();
    let mut back = reloaded.follow_redirect();
    back.run();
    assert_eq!(back.state(), AuthState::LoggedOut);
    // The marker is gone: the next reload does not try again.
    let mut again = back.reload();
    again.start();
    again.run();
    assert!(again.navigations.is_empty());
    assert_eq!(again.state(), AuthState::LoggedOut);
}

#[test]
fn app_urls_with_code_are_not_callbacks_and_keep_the_pending_sign_in() {
    let idp = Idp::new();
    let mut tab = Tab::new(&idp, "/shop");
    tab.query = "?code=SUMMER10".into();
    tab.session.insert("pending".into(), "kept".into());
    tab.start();
    tab.run();
    assert_eq!(tab.url, "/shop?code=SUMMER10");
    assert_eq!(tab.session.get("pending").map(String::as_str), Some("kept"));
    // Same with `code` and `state` on another path than the redirect URI's.
    let mut tab = Tab::new(&idp, "/other");
    tab.query = "?code=a&state=b".into();
    tab.session.insert("pending".into(), "kept".into());
    tab.start();
    tab.run();
    assert_eq!(tab.session.get("pending").map(String::as_str), Some("kept"));
}

#[test]
fn forged_callback_fails_with_a_clear_error_and_cleans_the_address() {
    let idp = Idp::new();
    let mut tab = Tab::new(&idp, "/");
    tab.query = "?code=x&state=forged&keep=1".into();
    tab.start();
    tab.run();
    assert_eq!(tab.url, "/?keep=1");
    match tab.state() {
        AuthState::Failed(e) => assert!(e.to_string().contains("state"), "{e}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn only_a_callback_the_app_exchanges_itself_keeps_the_page_scripts_exchange() {
    let idp = Idp::new();
    // Taken: the app sends the very same request.
    let mut tab = Tab::new(&idp, "/");
    tab.start();
    tab.run();
    let tab = tab.login_as("alice");
    assert!(tab.state().is_logged_in());
    assert_eq!(tab.exchanges_forgone, 0);
    // A callback waiting on the provider's metadata (cached before the redirect,
    // too old by then), given up for a sign-in or a logout asked for meanwhile: so
    // is the page script's exchange for it.
    let waiting_callback = || {
        let mut tab = Tab::new(&idp, "/");
        tab.start();
        tab.run();
        tab.dispatch(Event::Login(LoginOptions::default()));
        tab.advance(11 * 60_000);
        let mut back = tab.follow_interactive("alice");
        back.hold_fetches = true;
        back.start();
        back.run();
        assert_eq!(back.held.len(), 1, "the metadata request");
        back
    };
    for given_up_for in [
        Event::Login(LoginOptions::default()),
        Event::Logout(LogoutOptions::default().local_only(true)),
    ] {
        let mut back = waiting_callback();
        back.dispatch(given_up_for);
        assert_eq!(back.exchanges_forgone, 1);
    }
    // A callback the app refuses (here the provider's error for its own request).
    let mut tab = Tab::new(&idp, "/");
    tab.start();
    tab.run();
    tab.dispatch(Event::Login(LoginOptions::default()));
    idp.set_authorize_error(Some("access_denied"));
    let mut back = tab.follow_interactive("alice");
    back.start();
    back.run();
    assert!(
        matches!(back.state(), AuthState::Failed(_)),
        "{:?}",
        back.state()
    );
    assert_eq!(back.exchanges_forgone, 1);
    // The provider's metadata, cached before the redirect, is too old by the
    // callback, and the provider cannot be reached: the sign-in fails, and the
    // exchange the page script sent is not taken either.
    let mut tab = Tab::new(&idp, "/");
    idp.set_authorize_error(None);
    tab.start();
    tab.run();
    tab.dispatch(Event::Login(LoginOptions::default()));
    tab.advance(11 * 60_000);
    let mut back = tab.follow_interactive("alice");
    idp.set_down(true);
    back.start();
    back.run();
    assert!(
        matches!(back.state(), AuthState::Failed(AuthError::Network(_))),
        "{:?}",
        back.state()
    );
    assert_eq!(back.exchanges_forgone, 1);
}

#[test]
fn a_tab_started_offline_restores_once_back_online() {
    let idp = Idp::new();
    let signed = signed_in(&idp);
    // A reload (the provider cached: the frame meets the browser's error page) and
    // a new tab (nothing cached: discovery fails).
    for cached in [true, false] {
        let mut tab = signed.reload();
        if !cached {
            tab.session.clear();
        }
        tab.offline = true;
        idp.set_down(true);
        tab.start();
        tab.run();
        assert!(!tab.state().is_logged_in(), "cached {cached}");
        assert!(
            idp.0.borrow().local.contains_key("signed-in"),
            "cached {cached}: the session is not forgotten"
        );
        idp.set_down(false);
        tab.dispatch(Event::Online(true));
        tab.run();
        assert!(
            tab.state().is_logged_in(),
            "cached {cached}: {:?}",
            tab.state()
        );
    }
    // A sign-in or a logout the user asks for meanwhile wins: nothing is made again
    // later. (Nothing cached: the discovery of that sign-in fails too, and the tab
    // is back in the failed state a retry would start from.)
    for event in [
        Event::Login(LoginOptions::default()),
        Event::Logout(LogoutOptions::default().local_only(true)),
    ] {
        let mut tab = signed.reload();
        tab.session.clear();
        tab.offline = true;
        idp.set_down(true);
        tab.start();
        tab.run();
        tab.dispatch(event);
        idp.set_down(false);
        let before = idp.requests();
        tab.dispatch(Event::Online(true));
        assert_eq!(idp.requests(), before, "{:?}", tab.state());
        assert!(!tab.state().is_logged_in());
    }
}

#[test]
fn a_tab_that_could_not_reach_the_provider_at_start_signs_in_with_another_tabs_login() {
    let idp = Idp::new();
    // The browser is online; the provider is not answering when this tab starts.
    idp.set_down(true);
    let mut waiting = Tab::new(&idp, "/todos");
    waiting.tab_id = "b".into();
    waiting.start();
    waiting.run();
    assert!(matches!(
        waiting.state(),
        AuthState::Failed(AuthError::Network(_))
    ));
    // It is back; the user signs in in another tab.
    idp.set_down(false);
    let other = signed_in(&idp);
    assert!(other.state().is_logged_in());
    waiting.dispatch(login_heard(&other.tab_id, "/todos"));
    assert!(waiting.state().is_logged_in(), "{:?}", waiting.state());
}

#[test]
fn back_online_an_app_on_another_site_does_not_leave_the_page_to_restore() {
    let idp = Idp::new();
    let signed = signed_in_across_sites(&idp, "/todos");
    let mut tab = signed.reload();
    tab.session.clear();
    tab.offline = true;
    idp.set_down(true);
    tab.start();
    tab.run();
    assert!(tab.navigations.is_empty());
    idp.set_down(false);
    tab.dispatch(Event::Online(true));
    // The provider is known again; the restore waits for the next load.
    assert!(tab.navigations.is_empty(), "{:?}", tab.navigations);
    assert_eq!(tab.state(), AuthState::LoggedOut);
}

/// A session whose access tokens are JWTs without `expires_in`, and whose
/// refreshes bring no new ID token (nothing reads the provider's clock again),
/// after the client's clock is moved by `jump` ms: each refreshed token is given its
/// own lifetime, neither stretched nor the default for an unknown one.
fn jwt_lifetimes_hold_after_a_clock_jump(jump: i64) {
    let idp = Idp::new();
    idp.set_expires_in(None);
    assert!(idp.lifetime_ms() < super::machine::DEFAULT_LIFETIME_MS);
    let mut tab = signed_in(&idp);
    idp.set_old_id_token_on_refresh(Some(OldIdToken::Resent));
    tab.now.wall = tab.now.wall.saturating_add_signed(jump);
    tab.advance(idp.lifetime_ms());
    tab.want_token();
    assert_eq!(idp.refreshes(), 1);
    tab.advance(idp.lifetime_ms() + 1_000);
    tab.want_token();
    assert_eq!(idp.refreshes(), 2, "an expired token was handed out");
    assert!(tab.last_answer().is_ok());
    assert!(tab.state().is_logged_in());
}

#[test]
fn a_clock_set_back_does_not_stretch_a_jwt_access_tokens_lifetime() {
    // An hour more by that clock, without the bound.
    jwt_lifetimes_hold_after_a_clock_jump(-3_600_000);
}

#[test]
fn a_clock_set_forward_gives_a_jwt_access_token_its_own_lifetime_not_the_default() {
    // Expired by that clock: the default (5 minutes) without the bound.
    jwt_lifetimes_hold_after_a_clock_jump(3_600_000);
}

#[test]
fn an_access_token_that_expires_as_it_is_issued_does_not_make_renewal_loop() {
    // No `expires_in`, and a JWT whose `exp` is its `iat`: as unknown as
    // `expires_in: 0`, it gets the default lifetime.
    let idp = Idp::new();
    idp.set_expires_in(None);
    idp.set_lifetime(0);
    let mut tab = signed_in(&idp);
    for _ in 0..3 {
        tab.want_token();
        assert!(tab.last_answer().is_ok());
        tab.advance(1_000);
        tab.fire_timers();
    }
    assert_eq!(tab.resolved.len(), 3);
    assert_eq!(idp.refreshes(), 0);
    assert!(tab.state().is_logged_in());
}

#[test]
fn a_sign_in_that_takes_its_time_at_the_provider_is_accepted_within_the_hour() {
    // A password reset by e-mail, a second factor set up on the way: the provider's
    // own login lasts up to an hour (oidc-provider; Keycloak's is 30 minutes).
    for (minutes, accepted) in [(59, true), (61, false)] {
        let idp = Idp::new();
        let mut tab = Tab::new(&idp, "/todos");
        tab.start();
        tab.run();
        tab.dispatch(Event::Login(LoginOptions::default()));
        let mut back = tab.follow_interactive("alice");
        back.advance(minutes * 60_000);
        back.start();
        back.run();
        if accepted {
            assert!(
                back.state().is_logged_in(),
                "{minutes} min: {:?}",
                back.state()
            );
        } else {
            assert_eq!(
                back.state(),
                AuthState::Failed(crate::core::CallbackError::Expired.into()),
                "{minutes} min"
            );
        }
    }
}

#[test]
fn pending_request_of_another_client_is_refused() {
    let idp = Idp::new();
    let mut tab = Tab::new(&idp, "/todos");
    tab.start();
    tab.run();
    tab.dispatch(Event::Login(LoginOptions::default()));
    let mut back = tab.follow_interactive("alice");
    // The configuration changed between redirect and callback.
    back.client_id = "other-spa".into();
    back.start();
    back.run();
    assert_eq!(
        back.state(),
        AuthState::Failed(crate::core::CallbackError::NoPendingRequest.into())
    );
    assert!(idp.paths().iter().filter(|p| *p == "/token").count() == 0);
    // The page script's exchange for it, if it sent one, is not taken.
    assert_eq!(back.exchanges_forgone, 1);
}

/// A tab started with no session at the provider: signed out.
fn signed_out(idp: &Idp) -> Tab {
    let mut tab = Tab::new(idp, "/");
    tab.start();
    tab.run();
    assert_eq!(tab.state(), AuthState::LoggedOut);
    tab
}

/// A signed-in tab whose access token has run out, its refresh held in flight.
fn refresh_in_flight(idp: &Idp) -> Tab {
    let mut tab = signed_in(idp);
    tab.advance(idp.lifetime_ms());
    tab.hold_fetches = true;
    tab.want_token();
    assert_eq!(tab.held.len(), 1, "one refresh in flight");
    tab
}

#[test]
fn logout_during_a_refresh_is_final() {
    let idp = Idp::new();
    let mut tab = refresh_in_flight(&idp);
    tab.dispatch(Event::Logout(LogoutOptions::default().local_only(true)));
    assert_eq!(tab.state(), AuthState::LoggedOut);
    // The refresh answers after the logout: it is dropped.
    tab.release_all();
    tab.run();
    assert_eq!(tab.state(), AuthState::LoggedOut);
    // The caller waiting on it is answered, and not with the late token.
    assert_eq!(tab.resolved.len(), 1, "{:?}", tab.resolved);
    assert!(
        matches!(tab.resolved[0].1, Err(AuthError::NotLoggedIn)),
        "{:?}",
        tab.resolved
    );
}

#[test]
fn concurrent_callers_share_one_refresh() {
    let idp = Idp::new();
    let mut tab = signed_in(&idp);
    tab.advance(idp.lifetime_ms());
    tab.hold_fetches = true;
    for _ in 0..5 {
        tab.want_token();
    }
    assert_eq!(tab.held.len(), 1);
    tab.release_all();
    tab.run();
    assert_eq!(tab.resolved.len(), 5);
    assert!(tab.resolved.iter().all(|(_, r)| r.is_ok()));
    assert_eq!(idp.refreshes(), 1);
    assert_eq!(idp.reuse_detected(), 0);
}

#[test]
fn a_renewal_under_way_holds_callers_up_only_late_in_the_margin() {
    let idp = Idp::new();
    let mut tab = signed_in_with(&idp, |c| c.renew_ahead(false));
    let current = tab.token().unwrap();
    // 60 s tokens, a 30 s margin: 25 s left, the renewal starts and hangs.
    tab.advance(idp.lifetime_ms() - 25_000);
    tab.hold_fetches = true;
    let before = tab.resolved.len();
    tab.want_token();
    assert_eq!(tab.held.len(), 1, "a renewal under way");
    assert_eq!(tab.resolved.len(), before + 1, "answered at once");
    let answered = tab.last_answer().clone().unwrap();
    assert_eq!(answered.secret(), current.secret(), "the current token");
    // 10 s left: a caller waits for the renewal, and gets the new token.
    tab.advance(15_000);
    let before = tab.resolved.len();
    tab.want_token();
    assert_eq!(tab.resolved.len(), before, "waiting");
    tab.release_all();
    let renewed = tab.last_answer().clone().unwrap();
    assert_ne!(renewed.secret(), current.secret());
    assert_eq!(idp.refreshes(), 1);
}

#[test]
fn a_fresh_token_is_answered_without_the_network() {
    let idp = Idp::new();
    let mut tab = signed_in(&idp);
    let before = idp.requests();
    tab.want_token();
    assert_eq!(tab.resolved.len(), 1);
    assert_eq!(idp.requests(), before);
}

#[test]
fn an_active_tab_renews_ahead_of_expiry_and_an_idle_one_does_not() {
    let idp = Idp::new();
    let mut tab = signed_in(&idp);
    // Active: the timer renews before expiry, so a later call needs no network.
    let due = tab.machine.next_deadline().unwrap();
    assert!(due < tab.now.mono + idp.lifetime_ms());
    tab.activity_until(due);
    tab.fire_timers();
    assert_eq!(idp.refreshes(), 1);
    // Idle past the window: no more renewals ahead of time.
    tab.advance(ACTIVE_WINDOW_MS + idp.lifetime_ms() * 3);
    tab.fire_timers();
    assert_eq!(idp.refreshes(), 1);
    // A hidden tab does not either, even with recent activity.
    tab.dispatch(Event::Activity);
    tab.dispatch(Event::Visibility(false));
    assert_eq!(tab.machine.next_deadline(), None);
    // The next call renews lazily.
    tab.want_token();
    assert_eq!(idp.refreshes(), 2);
    assert!(tab.last_answer().is_ok());
}

#[test]
fn keep_alive_renews_before_the_provider_session_idles_out_while_the_user_works() {
    let idp = Idp::new();
    idp.set_refresh_expires_in(Some(600));
    let mut tab = signed_in_with(&idp, |c| c.renew_ahead(false));
    // The user works (activity every 30 s) for an hour, never calling the API.
    for _ in 0..120 {
        tab.advance(30_000);
        tab.dispatch(Event::Activity);
        tab.fire_timers();
    }
    // Renewed about every 540 s (a minute before the 600 s idle lifetime), never
    // idled out.
    let n = idp.refreshes();
    assert!((6..=10).contains(&n), "{n} refreshes");
    tab.want_token();
    assert!(tab.last_answer().is_ok());
    assert_eq!(idp.invalid_grants(), 0);
}

#[test]
fn keep_alive_renews_a_hidden_tab_while_the_user_works_in_another() {
    for auto_logout in [true, false] {
        let idp = Idp::new();
        idp.set_refresh_expires_in(Some(600));
        idp.set_refresh_idles_out(true);
        let tweak = if auto_logout {
            |c: OidcConfig| c
        } else {
            |c: OidcConfig| c.auto_logout(false)
        };
        let mut working = signed_in_with(&idp, tweak);
        let mut hidden = working.reload();
        hidden.tab_id = "b".into();
        hidden.start();
        hidden.run();
        assert!(hidden.state().is_logged_in());
        hidden.dispatch(Event::Visibility(false));
        // An hour of work in the first tab; the hidden one hears of it.
        for _ in 0..120 {
            working.advance(30_000);
            hidden.advance(30_000);
            let told = working.broadcasts.len();
            working.dispatch(Event::Activity);
            working.fire_timers();
            for message in working.broadcasts[told..].iter().copied() {
                hidden.dispatch(Event::Tab {
                    from: "a".into(),
                    message,
                    here: "/".into(),
                });
            }
            hidden.fire_timers();
        }
        hidden.dispatch(Event::Visibility(true));
        hidden.want_token();
        assert!(
            hidden.last_answer().is_ok(),
            "auto_logout {auto_logout}: {:?}",
            hidden.state()
        );
        assert_eq!(idp.invalid_grants(), 0, "auto_logout {auto_logout}");
        assert!(working.state().is_logged_in());
    }
}

#[test]
fn keep_alive_waits_for_the_user_after_a_sign_in() {
    let idp = Idp::new();
    idp.set_refresh_expires_in(Some(600));
    let mut tab = Tab::new(&idp, "/");
    tab.tweak = |c| c.renew_ahead(false).auto_logout(false);
    // The signature check answers in a later task, after the token answer.
    tab.verify_ms = 50;
    tab.start();
    tab.run();
    let mut tab = tab.login_as("alice");
    // Nobody works: past the keep-alive time (540 s), nothing is renewed.
    for _ in 0..20 {
        tab.advance(30_000);
        tab.fire_timers();
    }
    assert_eq!(idp.refreshes(), 0);
    // Once the user works, it is.
    tab.dispatch(Event::Activity);
    tab.fire_timers();
    assert_eq!(idp.refreshes(), 1);
}

#[test]
fn keep_alive_goes_on_at_its_pace_when_renewals_stop_telling_the_idle_lifetime() {
    let idp = Idp::new();
    idp.set_refresh_expires_in(Some(600));
    let mut tab = signed_in_with(&idp, |c| c.renew_ahead(false));
    // The refresh answers no longer carry `refresh_expires_in`.
    idp.set_refresh_expires_in(None);
    for _ in 0..120 {
        tab.advance(30_000);
        tab.dispatch(Event::Activity);
        tab.fire_timers();
    }
    let n = idp.refreshes();
    assert!((6..=10).contains(&n), "{n} refreshes in an hour");
}

#[test]
fn a_keep_alive_of_zero_is_none_not_a_refresh_at_every_move() {
    let idp = Idp::new();
    let mut tab = signed_in_with(&idp, |c| {
        c.renew_ahead(false)
            .keep_alive(std::time::Duration::ZERO)
            .auto_logout(false)
    });
    for _ in 0..60 {
        tab.advance(1_000);
        tab.dispatch(Event::Activity);
        tab.fire_timers();
    }
    assert_eq!(idp.refreshes(), 0, "refreshes in a minute of work");
}

#[test]
fn grants_of_two_requests_abandoned_in_turn_are_both_revoked() {
    // A refresh is in flight when another user signs in elsewhere: the session ends
    // and the frame restores, its code exchange in flight when a logout comes. Each
    // answer, when it comes, brings a grant nobody will use: both are revoked.
    let idp = Idp::new();
    let mut tab = refresh_in_flight(&idp);
    let heard = |tab: &mut Tab, message| {
        tab.dispatch(Event::Tab {
            from: "other".into(),
            message,
            here: "/".into(),
        })
    };
    heard(&mut tab, TabMessage::User(42));
    assert_eq!(tab.frames_opened, 1);
    tab.run();
    // The refresh, the revocation of the token the session held, and the frame's
    // code exchange.
    assert_eq!(tab.held.len(), 3);
    heard(&mut tab, TabMessage::Logout);
    let revoked = idp.revoked().len();
    tab.hold_fetches = false;
    tab.release_all();
    // The token the session held, and the refresh tokens of the two answers.
    assert_eq!(idp.revoked().len(), revoked + 3, "{:?}", idp.revoked());
}

#[test]
fn a_slow_answer_counts_its_tokens_lifetime_from_when_it_was_asked_for() {
    let idp = Idp::new();
    let mut tab = signed_in_with(&idp, |c| c.renew_ahead(false).auto_logout(false));
    let lifetime = idp.lifetime_ms();
    tab.advance(lifetime);
    tab.hold_fetches = true;
    tab.want_token();
    let sent = tab.now.wall;
    // Issued as the request came, its answer 10 s on the way back.
    let (req, request) = tab.held.remove(0);
    let result = idp.handle(&request, tab.now);
    tab.advance(10_000);
    tab.dispatch(Event::Http {
        req,
        result,
        waited: 0,
    });
    assert!(tab.last_answer().is_ok());
    // It expires `expires_in` after it was issued, not after it came.
    assert_eq!(tab.info.access_token_expires_at, Some(sent + lifetime));
}

#[test]
fn transient_failures_back_off_and_keep_the_current_token() {
    let idp = Idp::new();
    let mut tab = signed_in(&idp);
    let lifetime = idp.lifetime_ms();
    // Inside the margin but not expired.
    tab.advance(lifetime - 10_000);
    idp.set_down(true);
    tab.want_token();
    let first = tab.last_answer().clone();
    assert!(
        first.is_ok(),
        "the current token while it is valid: {first:?}"
    );
    assert!(tab.state().is_logged_in());
    // Retries back off: 1 s, 2 s, 4 s...
    let before = idp.requests();
    tab.advance(500);
    tab.fire_timers();
    assert_eq!(idp.requests(), before);
    tab.advance(600);
    tab.fire_timers();
    assert_eq!(idp.requests(), before + 1);
    // That retry went through the silent frame (the refresh token's answer may have
    // been lost, not its request), which fails at once with the provider down.
    assert_eq!(tab.frames_opened, 1);
    // Expired while the provider is down: an error, not a logout.
    tab.advance(lifetime);
    tab.want_token();
    assert!(tab.last_answer().is_err());
    assert!(tab.state().is_logged_in());
    // The provider is back: the session recovers.
    idp.set_down(false);
    tab.advance(MAX_WAIT);
    tab.fire_timers();
    tab.want_token();
    assert!(tab.last_answer().is_ok());
}

#[test]
fn a_refused_refresh_token_is_replaced_through_the_frame_while_the_provider_session_lives() {
    let idp = Idp::new();
    let mut tab = signed_in(&idp);
    // The grant is gone (revoked, or idled out before the user's session).
    idp.revoke_all();
    tab.advance(idp.lifetime_ms());
    let frames = tab.frames_opened;
    tab.want_token();
    assert_eq!(idp.invalid_grants(), 1);
    assert_eq!(tab.frames_opened, frames + 1, "asked the provider once");
    assert!(tab.state().is_logged_in(), "{:?}", tab.state());
    assert!(tab.last_answer().is_ok());
    assert!(!tab.broadcasts.contains(&TabMessage::Lost));
    // The new grant renews as usual.
    tab.advance(idp.lifetime_ms());
    tab.want_token();
    assert!(tab.last_answer().is_ok());
    assert_eq!(idp.invalid_grants(), 1);

    // Without a frame (the provider on another site), the session is lost at once.
    let idp = Idp::new();
    let mut tab = signed_in_across_sites(&idp, "/");
    idp.revoke_all();
    tab.advance(idp.lifetime_ms());
    tab.want_token();
    assert_eq!(tab.state(), AuthState::LoggedOut);
    assert!(tab.broadcasts.contains(&TabMessage::Lost));
    assert!(tab.info.session_lost);
}

#[test]
fn a_grant_that_idled_out_in_a_tab_asleep_ends_that_tab_only() {
    // Without a frame (the provider on another site), with grants that idle out
    // after 10 minutes, and no idle logout.
    let across_sites = |idp: &Idp| {
        let mut tab = Tab::with_origin(idp, "http://127.0.0.1:3000", "/");
        tab.tweak = |c| c.auto_logout(false);
        tab.start();
        tab.run();
        tab.login_as("alice")
    };
    let idp = Idp::new();
    idp.set_refresh_expires_in(Some(600));
    let mut tab = across_sites(&idp);
    assert!(tab.state().is_logged_in());
    // The tab sleeps for 40 minutes (no timer runs), and its grant idles out at the
    // provider; the other tabs kept theirs alive. Its refresh is refused.
    tab.broadcasts.clear();
    idp.revoke_all();
    tab.advance(40 * 60_000);
    tab.want_token();
    assert_eq!(idp.invalid_grants(), 1);
    assert_eq!(tab.state(), AuthState::LoggedOut);
    assert!(tab.info.session_lost, "the user is told to sign in again");
    assert!(
        idp.0.borrow().local.contains_key("signed-in"),
        "the other tabs' marker of a session was taken away"
    );
    assert!(
        !tab.broadcasts.contains(&TabMessage::Lost),
        "the other tabs were signed out: {:?}",
        tab.broadcasts
    );
    // Refused within its idle lifetime, the grant was ended at the provider: every
    // tab is told.
    let idp = Idp::new();
    idp.set_refresh_expires_in(Some(600));
    let mut tab = across_sites(&idp);
    idp.revoke_all();
    tab.advance(idp.lifetime_ms());
    tab.want_token();
    assert_eq!(idp.invalid_grants(), 1);
    assert_eq!(tab.state(), AuthState::LoggedOut);
    assert!(tab.broadcasts.contains(&TabMessage::Lost));
}

#[test]
fn invalid_grant_ends_the_session_and_tells_the_tabs() {
    let idp = Idp::new();
    let mut tab = idle_tab(&idp);
    tab.dispatch(Event::Activity);
    assert!(idp.0.borrow().local.contains_key("activity"));
    // The grant and the provider session are gone.
    idp.revoke_all();
    idp.end_sessions();
    tab.advance(idp.lifetime_ms());
    tab.want_token();
    assert_eq!(tab.state(), AuthState::LoggedOut);
    assert!(tab.broadcasts.contains(&TabMessage::Lost));
    assert!(tab.last_answer().is_err());
    // With the reason, for the app to tell the user.
    assert!(tab.info.session_lost);
    assert!(!tab.info.idle_logged_out);
    // When and whose the last activity was goes with the session: a mark of the
    // loss stands in its place.
    assert_eq!(
        idp.0.borrow().local.get("activity").map(String::as_str),
        Some("lost")
    );
    // Another signed-in tab hears it, with the same reason.
    let mut other = signed_in(&idp);
    assert!(!other.info.session_lost);
    other.dispatch(Event::Tab {
        from: "another".into(),
        message: TabMessage::Lost,
        here: "/".into(),
    });
    assert_eq!(other.state(), AuthState::LoggedOut);
    assert!(other.info.session_lost);
    // A new sign-in clears it.
    let tab = tab.login_as("alice");
    assert!(!tab.info.session_lost);
}

#[test]
fn keys_are_fetched_again_when_the_cached_set_cannot_check_a_refreshed_token() {
    // A new key under the old `kid` (the cached key's signature check fails), and
    // another algorithm, without a `kid` (no cached key fits it).
    for rotate in [Idp::rotate_key_keeping_kid as fn(&Idp), |idp| {
        idp.switch_to_rsa("")
    }] {
        let idp = Idp::new();
        let mut tab = signed_in(&idp);
        rotate(&idp);
        tab.advance(idp.lifetime_ms());
        let before = idp.paths().len();
        tab.want_token();
        assert!(tab.last_answer().is_ok(), "{:?}", tab.state());
        assert!(tab.state().is_logged_in());
        assert_eq!(idp.paths_since(before), ["/token", "/jwks"]);
    }
}

#[test]
fn an_id_token_for_another_audience_too_signs_in_only_when_the_app_trusts_it() {
    // OIDC Core 3.1.3.7 step 3.
    let idp = Idp::new();
    idp.set_extra_audience(Some("api"));
    let tab = signed_in_with(&idp, |c| c.trusted_audience("api"));
    assert_eq!(tab.user().as_deref(), Some("alice"));

    let idp = Idp::new();
    idp.set_extra_audience(Some("api"));
    let mut tab = Tab::new(&idp, "/");
    tab.start();
    tab.run();
    let tab = tab.login_as("alice");
    match tab.state() {
        AuthState::Failed(AuthError::IdToken(IdTokenError::UntrustedAudience(aud))) => {
            assert_eq!(aud, "api");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_issuer_without_tls_is_refused_before_any_request() {
    let idp = Idp::new();
    let mut tab = Tab::new(&idp, "/");
    tab.issuer = "http://login.example.com";
    tab.start();
    tab.run();
    assert_eq!(idp.requests(), 0);
    match tab.state() {
        AuthState::Failed(AuthError::Discovery(crate::core::DiscoveryError::InsecureEndpoint(
            url,
        ))) => assert_eq!(url, "http://login.example.com"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_rotated_refresh_token_survives_a_failed_key_fetch() {
    let idp = Idp::new();
    let mut tab = signed_in(&idp);
    // The provider rotates its signing key and its key set endpoint fails.
    idp.rotate_key();
    idp.set_jwks_down(true);
    tab.advance(idp.lifetime_ms());
    tab.want_token();
    assert!(tab.state().is_logged_in());
    // The answer's access token is not handed out while its ID token is unchecked:
    // the old one has expired, so the caller gets an error.
    assert!(tab.last_answer().is_err());
    // The back-off ends in a new try (with the rotated refresh token), not in a
    // timer that keeps firing for nothing.
    let refreshes = idp.refreshes();
    tab.advance(1_100);
    tab.fire_timers();
    assert_eq!(idp.refreshes(), refreshes + 1);
    assert_eq!(idp.reuse_detected(), 0);
    // The new refresh token was kept: the next refresh uses it, not the spent one.
    idp.set_jwks_down(false);
    tab.advance(idp.lifetime_ms());
    tab.want_token();
    tab.run();
    assert_eq!(idp.reuse_detected(), 0);
    assert_eq!(idp.invalid_grants(), 0);
    assert!(tab.last_answer().is_ok());
}

/// A tab whose renewal, due ten seconds before expiry, got no answer: the provider
/// was down (the request never arrived, though the tab cannot know it).
fn with_an_unanswered_refresh(idp: &Idp, tweak: fn(OidcConfig) -> OidcConfig) -> Tab {
    let mut tab = signed_in_with(idp, tweak);
    tab.advance(idp.lifetime_ms() - 10_000);
    idp.set_down(true);
    tab.want_token();
    idp.set_down(false);
    tab
}

#[test]
fn a_refresh_whose_answer_was_lost_is_not_sent_again() {
    // The provider rotates the refresh token, and its answer is lost on the way
    // back. Sending the same token again would look like a replay and end the grant
    // (RFC 9700 section 4.14.2): the silent frame renews instead.
    let idp = Idp::new();
    let mut tab = signed_in(&idp);
    let lifetime = idp.lifetime_ms();
    tab.advance(lifetime - 10_000);
    idp.lose_token_answers(1);
    let published = tab.published.len();
    tab.want_token();
    // The current token while it is valid.
    assert!(tab.last_answer().is_ok());
    assert_eq!(idp.refreshes(), 1);
    tab.advance(1_100);
    tab.fire_timers();
    assert_eq!(idp.reuse_detected(), 0, "{:?}", idp.0.borrow().presented);
    assert_eq!(idp.invalid_grants(), 0);
    assert!(tab.state().is_logged_in(), "{:?}", tab.state());
    assert_eq!(tab.frames_opened, 1);
    // The same user, newly authenticated: nothing new for the app to show.
    assert_eq!(tab.published.len(), published);
    // The session goes on with the frame's new refresh token, whose refreshed ID
    // tokens carry the new authentication's nonce (OIDC Core 12.2).
    tab.advance(lifetime);
    tab.want_token();
    assert!(tab.last_answer().is_ok());
    assert_eq!(idp.refreshes(), 2);
    let presented = idp.0.borrow().presented.clone();
    let mut unique = presented.clone();
    unique.dedup();
    assert_eq!(unique, presented, "a refresh token sent twice");
    // A logout revokes the token in use.
    tab.dispatch(Event::Logout(LogoutOptions::default().local_only(true)));
    assert_eq!(idp.revoked().len(), 1);
}

#[test]
fn after_a_silent_re_authentication_refreshes_are_checked_against_it() {
    // With `max_age`, ID tokens carry `auth_time`; the frame's new authentication
    // brings a new one (and a new nonce), which its refreshes repeat (OIDC Core 12.2).
    use std::time::Duration;
    let idp = Idp::new();
    let mut tab = signed_in_with(&idp, |c| c.max_age(Duration::from_secs(3600)));
    tab.advance(idp.lifetime_ms() - 10_000);
    idp.lose_token_answers(1);
    tab.want_token();
    tab.advance(1_100);
    tab.fire_timers();
    assert_eq!(tab.frames_opened, 1);
    for _ in 0..3 {
        tab.advance(idp.lifetime_ms());
        tab.want_token();
        assert!(tab.last_answer().is_ok(), "{:?}", tab.state());
    }
    assert_eq!(idp.refreshes(), 4);
    assert!(tab.state().is_logged_in());
}

#[test]
fn a_refreshed_id_token_without_auth_time_does_not_move_the_authentication_time() {
    // OIDC Core 12.2: a refreshed ID token's `auth_time`, if present, is the time of
    // the original authentication. A refresh that leaves it out is accepted; the
    // next one must still name the original time.
    use std::time::Duration;
    let idp = Idp::new();
    let mut tab = signed_in_with(&idp, |c| c.max_age(Duration::from_secs(3600)));
    let original = tab.state().user().unwrap().claims().auth_time;
    assert!(original.is_some());
    idp.set_auth_time_on_refresh(Some(None));
    tab.advance(idp.lifetime_ms());
    tab.want_token();
    assert!(tab.last_answer().is_ok(), "{:?}", tab.state());
    assert_eq!(tab.state().user().unwrap().claims().auth_time, None);
    // The original time again: accepted.
    idp.set_auth_time_on_refresh(None);
    tab.advance(idp.lifetime_ms());
    tab.want_token();
    assert!(tab.last_answer().is_ok(), "{:?}", tab.state());
    // Another time: refused, though the token before had none.
    idp.set_auth_time_on_refresh(Some(None));
    tab.advance(idp.lifetime_ms());
    tab.want_token();
    assert!(tab.last_answer().is_ok(), "{:?}", tab.state());
    idp.set_auth_time_on_refresh(Some(original.map(|t| t + 600)));
    tab.advance(idp.lifetime_ms());
    tab.want_token();
    assert_eq!(
        tab.state(),
        AuthState::Failed(crate::core::IdTokenError::RefreshMismatch("auth_time").into())
    );
}

#[test]
fn a_refreshed_id_token_may_leave_the_nonce_out_and_carry_it_again() {
    // OIDC Core 12.2: a refreshed ID token should not carry a `nonce`; if it does,
    // it is the authentication's. One without, then one with it: both accepted.
    let idp = Idp::new();
    let mut tab = signed_in(&idp);
    assert!(tab.state().user().unwrap().claims().nonce.is_some());
    idp.set_omit_nonce_on_refresh(true);
    tab.advance(idp.lifetime_ms());
    tab.want_token();
    assert!(tab.last_answer().is_ok(), "{:?}", tab.state());
    idp.set_omit_nonce_on_refresh(false);
    tab.advance(idp.lifetime_ms());
    tab.want_token();
    assert!(tab.last_answer().is_ok(), "{:?}", tab.state());
    assert!(tab.state().is_logged_in());
}

#[test]
fn a_refresh_token_whose_answer_was_lost_is_the_last_resort_when_the_frame_needs_the_user() {
    // The refresh request never reached the provider (it was down), and by the
    // next try its session cookie is gone: the frame needs the user, and the
    // refresh token, still good, keeps the session.
    let idp = Idp::new();
    let mut tab = with_an_unanswered_refresh(&idp, |c| c);
    assert_eq!(idp.refreshes(), 0);
    idp.end_sessions();
    tab.advance(1_100);
    tab.fire_timers();
    assert_eq!(tab.frames_opened, 1);
    assert_eq!(idp.refreshes(), 1);
    assert_eq!(idp.invalid_grants(), 0);
    assert!(tab.state().is_logged_in(), "{:?}", tab.state());
    tab.want_token();
    assert!(tab.last_answer().is_ok());
}

#[test]
fn a_last_resort_token_refused_after_the_frame_wanted_the_user_ends_the_session_without_asking_again(
) {
    // The lost refresh was carried out (the token is spent), and the provider
    // session is gone: the frame wants the user, the doubtful token is refused.
    let idp = Idp::new();
    let mut tab = signed_in(&idp);
    tab.advance(idp.lifetime_ms() - 10_000);
    idp.lose_token_answers(1);
    tab.want_token();
    idp.end_sessions();
    tab.advance(1_100);
    tab.fire_timers();
    assert_eq!(tab.state(), AuthState::LoggedOut);
    assert_eq!(tab.frames_opened, 1, "the frame asked once");
    assert!(tab.broadcasts.contains(&TabMessage::Lost));
}

#[test]
fn the_last_resort_is_tried_once_even_when_its_answer_is_lost_too() {
    // The doubtful token goes out as the last resort, and that answer is lost too
    // (the provider rotated it): trying it again would be a replay of a spent token.
    let idp = Idp::new();
    let mut tab = with_an_unanswered_refresh(&idp, |c| c);
    idp.end_sessions();
    idp.lose_token_answers(1);
    for _ in 0..10 {
        tab.advance(61_000);
        tab.fire_timers();
    }
    assert_eq!(idp.refreshes(), 1, "{:?}", idp.0.borrow().presented);
    assert_eq!(idp.reuse_detected(), 0);
    // The frame still wants the user, and nothing is left to try: the session ends,
    // and the spent token (with the grant the lost answer began) is revoked.
    assert_eq!(tab.state(), AuthState::LoggedOut);
    let spent = idp.0.borrow().presented[0].clone();
    assert!(idp.revoked().contains(&spent), "{:?}", idp.revoked());
}

#[test]
fn a_last_resort_tried_while_offline_is_not_used_up() {
    // Offline, the frame meets the browser's error page, and once the access token
    // has run out the doubtful token gets its last try: it fails, never having left.
    // Back online the provider wants the user: the token still gets its last try,
    // and the session goes on.
    let idp = Idp::new();
    let mut tab = with_an_unanswered_refresh(&idp, |c| c);
    tab.dispatch(Event::Online(false));
    idp.set_down(true);
    idp.set_frame_stops(true);
    tab.advance(idp.lifetime_ms());
    for _ in 0..5 {
        tab.advance(61_000);
        tab.fire_timers();
    }
    assert_eq!(idp.refreshes(), 0);
    idp.set_down(false);
    idp.set_frame_stops(false);
    idp.end_sessions();
    tab.dispatch(Event::Online(true));
    for _ in 0..5 {
        tab.advance(61_000);
        tab.fire_timers();
    }
    assert_eq!(idp.refreshes(), 1, "{:?}", idp.0.borrow().presented);
    assert!(tab.state().is_logged_in(), "{:?}", tab.state());
}

#[test]
fn a_last_resort_lost_after_frame_timeouts_is_not_tried_again_and_is_revoked_at_logout() {
    // The frame cannot answer; once the access token has run out the doubtful token
    // is tried, and that answer is lost too. It is not tried again, and a logout
    // still revokes it.
    let idp = Idp::new();
    let mut tab = with_an_unanswered_refresh(&idp, |c| c);
    idp.set_frame_hangs(true);
    tab.advance(idp.lifetime_ms());
    idp.lose_token_answers(1);
    for _ in 0..10 {
        tab.advance(61_000);
        tab.fire_timers();
    }
    let presented = idp.0.borrow().presented.clone();
    assert_eq!(presented.len(), 1, "{presented:?}");
    assert_eq!(idp.reuse_detected(), 0);
    tab.dispatch(Event::Logout(LogoutOptions::default().local_only(true)));
    assert!(idp.revoked().contains(&presented[0]), "{:?}", idp.revoked());
}

#[test]
fn without_the_frame_a_refresh_whose_answer_was_lost_is_sent_again() {
    // With no silent frame (the provider on another site), the refresh token is
    // the only way to renew: a lost answer is retried with it, as before.
    let idp = Idp::new();
    let mut tab = with_an_unanswered_refresh(&idp, |c| c.restore(RestoreMode::Redirect));
    tab.advance(1_100);
    tab.fire_timers();
    assert_eq!(tab.frames_opened, 0);
    assert_eq!(idp.refreshes(), 1);
    assert!(tab.state().is_logged_in(), "{:?}", tab.state());
}

#[test]
fn a_silent_frame_that_stops_on_a_page_of_its_own_fails_at_once() {
    // The provider cannot be reached on a reload: the frame shows the browser's
    // error page. The app is signed out then, not kept pending until the frame's
    // timeout.
    let idp = Idp::new();
    let tab = signed_in(&idp);
    idp.set_down(true);
    let mut again = tab.reload();
    again.start();
    again.run();
    assert_eq!(again.frames_opened, 1);
    assert_eq!(again.state(), AuthState::LoggedOut);
    // A renewal through the frame (no refresh token) fails at once too, and is
    // retried later.
    let idp = Idp::new();
    idp.set_issue_refresh_tokens(false);
    let mut tab = signed_in(&idp);
    tab.advance(idp.lifetime_ms() - 10_000);
    idp.set_down(true);
    let frames = tab.frames_opened;
    tab.want_token();
    assert_eq!(tab.frames_opened, frames + 1);
    assert!(tab.last_answer().is_ok(), "the current token");
    // The next try comes after the back-off (1 s), not after the frame's timeout.
    tab.advance(1_100);
    tab.fire_timers();
    assert_eq!(tab.frames_opened, frames + 2);
    assert!(tab.state().is_logged_in());
}

#[test]
fn only_answers_that_may_hide_a_rotation_keep_a_refresh_token_from_being_sent_again() {
    // (status, body, whether the refresh token is sent again)
    let cases = [
        (502, "<html>Bad Gateway</html>", false),
        (200, "{\"access_token\": ", false),
        (429, "", true),
        (408, "", true),
        (500, r#"{"error":"server_error"}"#, true),
        (503, r#"{"error":"temporarily_unavailable"}"#, true),
        // Errors that are not OAuth's, in the JSON body of a server error or a rate
        // limit: what the status says holds, not that the body has an `error`.
        (500, r#"{"error":"unknown_error"}"#, false),
        (503, r#"{"error":"Service Unavailable"}"#, false),
        (429, r#"{"error":"too_many_requests"}"#, true),
        // A 4xx with no OAuth error (a proxy's or a firewall's page): not the
        // provider's refusal, and nothing says what became of the request.
        (403, "<html>Forbidden</html>", false),
        (401, "", false),
        (404, r#"{"message":"no route"}"#, false),
    ];
    for (status, body, resent) in cases {
        let idp = Idp::new();
        let mut tab = signed_in(&idp);
        tab.advance(idp.lifetime_ms() - 10_000);
        idp.fail_next_token(status, body);
        tab.want_token();
        assert!(tab.last_answer().is_ok(), "{status} {body}");
        tab.advance(1_100);
        tab.fire_timers();
        let frames = u32::from(!resent);
        assert_eq!(tab.frames_opened, frames, "{status} {body}");
        assert_eq!(idp.refreshes(), u32::from(resent), "{status} {body}");
        assert!(tab.state().is_logged_in(), "{status} {body}");
    }
}

#[test]
fn a_logout_revokes_a_refresh_token_whose_answer_was_lost() {
    let idp = Idp::new();
    let mut tab = with_an_unanswered_refresh(&idp, |c| c);
    tab.dispatch(Event::Logout(LogoutOptions::default().local_only(true)));
    let revoked = idp.revoked();
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    assert!(
        revoked[0].ends_with(":0"),
        "the token signed in with: {revoked:?}"
    );
}

#[test]
fn a_doubtful_refresh_token_is_tried_once_the_frame_cannot_renew_and_the_token_ran_out() {
    // The refresh request never arrived (the provider was down); then the silent
    // frame stays on a page of the provider's. Without the refresh token the
    // session could not go on: once the access token has run out, it is tried.
    let idp = Idp::new();
    let mut tab = with_an_unanswered_refresh(&idp, |c| c);
    idp.set_frame_stops(true);
    tab.advance(1_100);
    tab.fire_timers();
    assert_eq!(tab.frames_opened, 1);
    assert_eq!(idp.refreshes(), 0, "not while the access token is valid");
    tab.advance(10_000);
    tab.want_token();
    tab.want_token();
    assert!(tab.last_answer().is_ok(), "{:?}", tab.resolved.last());
    assert_eq!(idp.refreshes(), 1);
    assert_eq!(idp.invalid_grants(), 0);
    assert!(tab.state().is_logged_in());
}

#[test]
fn a_renewal_whose_frame_hangs_answers_its_callers_at_the_timeout() {
    let idp = Idp::new();
    idp.set_issue_refresh_tokens(false);
    let mut tab = signed_in(&idp);
    idp.set_frame_hangs(true);
    tab.advance(idp.lifetime_ms());
    let resolved = tab.resolved.len();
    tab.want_token();
    assert_eq!(
        tab.resolved.len(),
        resolved,
        "the caller waits for the frame"
    );
    tab.advance(10_000);
    tab.fire_timers();
    assert_eq!(tab.resolved.len(), resolved + 1);
    assert!(tab.last_answer().is_err());
    assert!(tab.state().is_logged_in());
}

#[test]
fn a_failure_told_for_a_frame_already_answered_changes_nothing() {
    let idp = Idp::new();
    idp.set_issue_refresh_tokens(false);
    let mut tab = signed_in(&idp);
    tab.advance(idp.lifetime_ms() - 10_000);
    tab.want_token();
    assert_eq!(tab.info.renewals, 1);
    let req = tab.last_frame.unwrap();
    let frames = tab.frames_opened;
    tab.dispatch(Event::SilentFailed { req });
    tab.advance(1_100);
    tab.fire_timers();
    assert_eq!(tab.frames_opened, frames);
    assert!(tab.state().is_logged_in());
    tab.want_token();
    assert!(tab.last_answer().is_ok());
}

#[test]
fn an_early_frame_on_an_error_page_signs_out_at_once() {
    let idp = Idp::new();
    let tab = signed_in(&idp);
    let mut again = tab.reload();
    let key = Client::bind(OidcConfig::new(ISS, "spa"), APP).key(Slot::Provider);
    early_start(&mut again, &key);
    idp.set_down(true);
    again.start();
    again.run();
    assert_eq!(again.frames_adopted, 1);
    assert_eq!(again.state(), AuthState::LoggedOut);
}

#[test]
fn a_logout_in_another_tab_stands_against_a_silent_restore_under_way() {
    // The tab is still discovering the provider when the other tab logs out.
    let idp = Idp::new();
    let mut a = signed_in(&idp);
    let mut b = Tab::new(&idp, "/");
    b.tab_id = "b".into();
    b.hold_fetches = true;
    b.start();
    b.run();
    a.dispatch(Event::Logout(LogoutOptions::default().local_only(true)));
    b.dispatch(Event::Tab {
        from: a.tab_id.clone(),
        message: TabMessage::Logout,
        here: "/".into(),
    });
    b.hold_fetches = false;
    b.release_all();
    assert_eq!(b.frames_opened, 0, "no silent sign-in after the logout");
    assert_eq!(b.state(), AuthState::LoggedOut);

    // The tab is away at the provider (a `prompt=none` redirect) when another tab
    // logs out: the answer it comes back with is not redeemed.
    let idp = Idp::new();
    let mut c = Tab::with_origin(&idp, "http://127.0.0.1:3000", "/");
    c.start();
    c.run();
    let mut c = c.login_as("alice");
    let mut away = c.reload();
    away.start();
    away.run();
    assert!(away.navigations.last().unwrap().contains("prompt=none"));
    c.dispatch(Event::Logout(LogoutOptions::default().local_only(true)));
    let before = idp.requests();
    let mut back = away.follow_redirect();
    back.run();
    assert_eq!(back.state(), AuthState::LoggedOut);
    // An exchange the page's script may have sent for it is not wanted.
    assert_eq!(back.exchanges_forgone, 1);
    assert!(
        !idp.paths_since(before).contains(&"/token".to_owned()),
        "{:?}",
        idp.paths_since(before)
    );
}

#[test]
fn a_renewal_shows_the_users_changed_claims_and_only_then() {
    let idp = Idp::new();
    idp.set_roles(&["admin"]);
    let mut tab = signed_in(&idp);
    let roles = |tab: &Tab| {
        let user = tab.state().user().cloned().unwrap();
        let v: serde_json::Value = user.claims_as().unwrap();
        v["roles"].clone()
    };
    assert_eq!(roles(&tab), serde_json::json!(["admin"]));
    // A renewal with the same claims (new times only) publishes nothing new.
    let published = tab.published.len();
    tab.advance(idp.lifetime_ms());
    tab.want_token();
    assert_eq!(idp.refreshes(), 1);
    assert_eq!(tab.published.len(), published);
    // The provider takes the role away: the next renewal shows it.
    idp.set_roles(&["user"]);
    tab.advance(idp.lifetime_ms());
    tab.want_token();
    assert_eq!(idp.refreshes(), 2);
    assert_eq!(roles(&tab), serde_json::json!(["user"]));
}

#[test]
fn refreshed_id_token_with_another_subject_ends_the_session() {
    let idp = Idp::new();
    let mut tab = signed_in(&idp);
    idp.set_subject_on_refresh(Some("mallory"));
    tab.advance(idp.lifetime_ms());
    tab.want_token();
    assert_eq!(
        tab.state(),
        AuthState::Failed(crate::core::IdTokenError::RefreshMismatch("sub").into())
    );
    // The grant ends (RFC 7009): the refresh token the refused answer brought first
    // (the live one), then the one held (spent by the refresh: a no-op for the
    // provider, which may also take it as the end of the grant).
    let revoked = idp.revoked();
    assert_eq!(revoked.len(), 2, "{revoked:?}");
    assert!(
        revoked[0].ends_with(":1"),
        "the live one first: {revoked:?}"
    );
    assert!(revoked[1].ends_with(":0"), "{revoked:?}");
}

#[test]
fn a_backdated_refreshed_id_token_is_refused() {
    let idp = Idp::new();
    let mut tab = signed_in(&idp);
    idp.set_old_id_token_on_refresh(Some(OldIdToken::Backdated));
    // Issued at sign-in, though the refresh comes three minutes later: more than
    // the leeway (60 s) before the request.
    tab.advance(3 * idp.lifetime_ms());
    tab.want_token();
    assert_eq!(idp.refreshes(), 1);
    match tab.state() {
        AuthState::Failed(AuthError::IdToken(IdTokenError::StaleRefresh)) => {}
        other => panic!("{other:?}"),
    }
    // The grant ends, through the refresh token the refused answer brought first.
    let revoked = idp.revoked();
    assert_eq!(revoked.len(), 2, "{revoked:?}");
    assert!(
        revoked[0].ends_with(":1"),
        "the live one first: {revoked:?}"
    );
}

#[test]
fn a_frame_renewal_that_ends_the_session_revokes_both_grants() {
    // A refresh whose answer was lost leaves its token doubtful (perhaps still live):
    // the frame renews, and comes back with another user. The session ends, and so
    // do both grants: the frame's new one first, then the one held.
    let idp = Idp::new();
    let mut tab = with_an_unanswered_refresh(&idp, |c| c);
    idp.0.borrow_mut().session = Some("mallory".into());
    tab.advance(1_100);
    tab.fire_timers();
    assert_eq!(tab.frames_opened, 1);
    assert_eq!(
        tab.state(),
        AuthState::Failed(IdTokenError::RefreshMismatch("sub").into())
    );
    let revoked = idp.revoked();
    assert_eq!(revoked.len(), 2, "{revoked:?}");
    assert_ne!(revoked[0], revoked[1]);
    assert!(revoked[1].ends_with(":0"), "the held one last: {revoked:?}");
}

#[test]
fn a_resent_id_token_keeps_the_session_and_its_clock() {
    let idp = Idp::new();
    // No `expires_in`: the access token's lifetime comes from its `exp`, read in
    // the provider's time.
    idp.set_expires_in(None);
    let mut tab = signed_in(&idp);
    idp.set_old_id_token_on_refresh(Some(OldIdToken::Resent));
    tab.advance(3 * idp.lifetime_ms());
    tab.want_token();
    assert_eq!(idp.refreshes(), 1);
    assert!(tab.state().is_logged_in(), "{:?}", tab.state());
    // Had the old token's `iat` set the clock three minutes back, the new access
    // token would look valid three minutes past its `exp`.
    tab.advance(idp.lifetime_ms() + 1_000);
    tab.want_token();
    assert_eq!(idp.refreshes(), 2);
    assert!(tab.state().is_logged_in(), "{:?}", tab.state());
}

#[test]
fn client_clock_minutes_off_either_way_signs_in_and_renews_on_time() {
    for skew in [-300_000i64, 300_000] {
        let idp = Idp::new();
        idp.set_clock_skew(skew);
        let mut tab = signed_in(&idp);
        assert!(tab.state().is_logged_in(), "skew {skew}");
        // Not renewed early, not used late.
        tab.advance(idp.lifetime_ms() / 4);
        tab.want_token();
        assert_eq!(idp.refreshes(), 0, "skew {skew}");
        tab.advance(idp.lifetime_ms());
        tab.want_token();
        assert_eq!(idp.refreshes(), 1, "skew {skew}");
    }
}

#[test]
fn a_wall_clock_jump_neither_logs_out_nor_keeps_an_expired_token() {
    let idp = Idp::new();
    let mut tab = signed_in(&idp);
    // Set back an hour: the monotonic clock still ages the token.
    tab.now.wall -= 3_600_000;
    tab.advance(idp.lifetime_ms());
    tab.want_token();
    assert_eq!(idp.refreshes(), 1);
    assert!(tab.state().is_logged_in());
    // Forward an hour (or a sleep the monotonic clock missed): renewed, not logged out.
    tab.now.wall += 7_200_000;
    tab.want_token();
    assert_eq!(idp.refreshes(), 2);
    assert!(tab.state().is_logged_in());
}

#[test]
fn expires_in_zero_does_not_loop() {
    let idp = Idp::new();
    idp.set_expires_in(Some(0));
    let mut tab = signed_in(&idp);
    for _ in 0..10 {
        tab.want_token();
        tab.fire_timers();
    }
    // The JWT's exp gives the lifetime.
    assert_eq!(idp.refreshes(), 0);
    idp.set_expires_in(None);
    let mut tab = signed_in(&idp);
    tab.want_token();
    assert_eq!(idp.refreshes(), 0);
}

#[test]
fn without_refresh_token_the_frame_renews() {
    let idp = Idp::new();
    idp.set_issue_refresh_tokens(false);
    let mut tab = signed_in(&idp);
    tab.advance(idp.lifetime_ms());
    let frames = tab.frames_opened;
    tab.want_token();
    assert_eq!(tab.frames_opened, frames + 1);
    assert!(tab.last_answer().is_ok());
    assert!(tab.state().is_logged_in());
}

#[test]
fn a_frame_renewal_answered_without_an_id_token_is_refused() {
    let idp = Idp::new();
    idp.set_issue_refresh_tokens(false);
    let mut tab = signed_in(&idp);
    // A new authentication without its ID token (OIDC Core 3.1.3.3 requires one):
    // nothing says it is the same user.
    idp.set_code_without_id_token(true);
    tab.advance(idp.lifetime_ms());
    let frames = tab.frames_opened;
    tab.want_token();
    assert_eq!(tab.frames_opened, frames + 1);
    assert!(tab.last_answer().is_err());
    assert_eq!(
        tab.state(),
        AuthState::Failed(
            crate::core::TokenError::Malformed("no id_token in the response".into()).into()
        )
    );
}

#[test]
fn a_busy_provider_answering_the_frame_is_tried_again_and_the_session_stays() {
    let idp = Idp::new();
    idp.set_issue_refresh_tokens(false);
    let mut tab = signed_in(&idp);
    for error in ["temporarily_unavailable", "server_error"] {
        idp.set_authorize_error(Some(error));
        // Inside the renewal margin, the token still valid.
        tab.advance(idp.lifetime_ms() * 3 / 4);
        let frames = tab.frames_opened;
        tab.want_token();
        assert_eq!(tab.frames_opened, frames + 1, "{error}");
        assert!(tab.last_answer().is_ok(), "{error}");
        assert!(tab.state().is_logged_in(), "{error}: {:?}", tab.state());
        // Answered normally next time.
        idp.set_authorize_error(None);
        tab.advance(idp.lifetime_ms() / 2);
        tab.want_token();
        assert!(tab.frames_opened > frames + 1, "{error}");
        assert!(tab.last_answer().is_ok(), "{error}");
        assert!(tab.state().is_logged_in(), "{error}: {:?}", tab.state());
    }
}

#[test]
fn logout_marker_blocks_silent_restore_and_the_next_login_asks_for_the_user() {
    let idp = Idp::new();
    let mut tab = signed_in(&idp);
    tab.dispatch(Event::Logout(LogoutOptions::default().local_only(true)));
    assert!(tab.broadcasts.contains(&TabMessage::Logout));
    let mut reloaded = tab.reload();
    reloaded.start();
    reloaded.run();
    assert_eq!(reloaded.frames_opened, 0);
    assert_eq!(reloaded.state(), AuthState::LoggedOut);
    reloaded.dispatch(Event::Login(LoginOptions::default()));
    let nav = reloaded.navigations.last().unwrap();
    assert!(nav.contains("prompt=login"), "{nav}");
}

#[test]
fn a_prompt_the_app_configures_gives_way_to_prompt_none_and_joins_login_after_a_logout() {
    let idp = Idp::new();
    let mut tab = Tab::new(&idp, "/");
    tab.tweak = |c| c.extra_param("prompt", "select_account");
    tab.start();
    tab.run();
    let mut tab = tab.login_as("alice");
    // Every request carries one `prompt` (the fake provider refuses a parameter sent
    // twice): the silent restore's `none` replaces the app's.
    let mut reloaded = tab.reload();
    reloaded.start();
    reloaded.run();
    assert_eq!(reloaded.user().as_deref(), Some("alice"));
    tab.dispatch(Event::Logout(LogoutOptions::default().local_only(true)));
    let mut reloaded = tab.reload();
    reloaded.start();
    reloaded.run();
    reloaded.dispatch(Event::Login(LoginOptions::default()));
    let nav = reloaded.navigations.last().unwrap().clone();
    let query = nav.split_once('?').unwrap().1;
    let prompts: Vec<_> = crate::core::form::parse(query)
        .into_iter()
        .filter(|(k, _)| k == "prompt")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(prompts, ["select_account login"], "{nav}");
}

#[test]
fn rp_initiated_logout_navigates_with_the_hint() {
    let idp = Idp::new();
    let mut tab = signed_in(&idp);
    tab.dispatch(Event::Logout(LogoutOptions::default()));
    let nav = tab.navigations.last().unwrap();
    assert!(nav.starts_with(&format!("{ISS}/session/end?")), "{nav}");
    assert!(nav.contains("id_token_hint="));
    assert!(nav.contains("client_id=spa"));
}

/// Another tab of the app, opened (and restored silently) beside `tab`.
fn another_tab(tab: &Tab, id: &str) -> Tab {
    let mut other = tab.reload();
    other.tab_id = id.into();
    other.start();
    other.run();
    other
}

/// `tab` signs in again at the provider, as `user`.
fn signed_in_again_as(mut tab: Tab, user: &str) -> Tab {
    tab.dispatch(Event::Login(LoginOptions::default()));
    let mut tab = tab.follow_interactive(user);
    tab.start();
    tab.run();
    tab
}

#[test]
fn a_tab_signed_in_as_another_user_follows_an_account_switch() {
    let idp = Idp::new();
    let a = signed_in(&idp);
    let mut b = another_tab(&a, "b");
    assert_eq!(b.user().as_deref(), Some("alice"));
    // A signs in again as bob: the provider's session is now bob's.
    let a = signed_in_again_as(a, "bob");
    assert_eq!(a.user().as_deref(), Some("bob"));
    let said = a.broadcasts.clone();
    assert!(
        matches!(
            said.as_slice(),
            [.., TabMessage::Login, TabMessage::User(_)]
        ),
        "{said:?}"
    );
    let heard = |b: &mut harness::Tab, message| {
        b.dispatch(Event::Tab {
            from: "a".into(),
            message,
            here: "/".into(),
        })
    };
    // B hears it: alice's session there ends (its grant revoked) and B restores as
    // bob through the hidden frame.
    let revoked = idp.revoked().len();
    for &m in &said[said.len() - 2..] {
        heard(&mut b, m);
    }
    b.run();
    assert_eq!(b.user().as_deref(), Some("bob"));
    assert_eq!(idp.revoked().len(), revoked + 1);
    // The same user signing in again elsewhere changes nothing here.
    let frames = b.frames_opened;
    for &m in &said[said.len() - 2..] {
        heard(&mut b, m);
    }
    assert_eq!(b.frames_opened, frames);
    assert_eq!(b.user().as_deref(), Some("bob"));
    // On the wire; a tab of an earlier version reads `login` alone.
    let all = [
        TabMessage::Login,
        TabMessage::User(u64::MAX),
        TabMessage::Logout,
        TabMessage::Lost,
        TabMessage::Activity,
    ];
    for m in all {
        assert_eq!(TabMessage::parse(&m.to_wire()), Some(m));
    }
    for wrong in ["user", "user x", "logout 1", "login 1"] {
        assert_eq!(TabMessage::parse(wrong), None, "{wrong}");
    }
}

#[test]
fn an_account_switch_does_not_take_a_page_away_without_a_frame() {
    let idp = Idp::new();
    let a = signed_in_across_sites(&idp, "/");
    let mut b = a.reload();
    b.tab_id = "b".into();
    b.start();
    b.run();
    let mut b = b.follow_redirect();
    b.run();
    assert_eq!(b.user().as_deref(), Some("alice"));
    let navigations = b.navigations.len();
    let revoked = idp.revoked().len();
    // Bob signed in in another tab: B's session of alice ends (its grant revoked),
    // and B stays where it is, signed out (a top-level redirect would take the page
    // from the user).
    let bob: crate::core::IdTokenClaims<RawClaims> = serde_json::from_value(
        serde_json::json!({ "iss": ISS, "sub": "bob", "aud": "spa", "exp": 2, "iat": 1 }),
    )
    .unwrap();
    for message in [
        TabMessage::Login,
        TabMessage::User(super::machine::user_tag(&bob)),
    ] {
        b.dispatch(Event::Tab {
            from: "a".into(),
            message,
            here: "/".into(),
        });
    }
    assert_eq!(b.state(), AuthState::LoggedOut);
    assert_eq!(b.navigations.len(), navigations);
    assert_eq!(idp.revoked().len(), revoked + 1);
}

#[test]
fn a_sign_in_sets_its_own_parameters_in_place_of_the_configured_ones() {
    let idp = Idp::new();
    let mut tab = Tab::new(&idp, "/");
    tab.tweak = |c| {
        c.extra_param("login_hint", "ada")
            .extra_param("ui_locales", "fr")
            .extra_param("prompt", "select_account")
    };
    tab.start();
    tab.run();
    let options = LoginOptions::default()
        .extra("login_hint", "bob")
        .extra("prompt", "consent");
    tab.dispatch(Event::Login(options));
    let nav = tab.navigations.last().unwrap().clone();
    let query = crate::core::form::parse(nav.split_once('?').unwrap().1);
    let values = |key: &str| -> Vec<String> {
        query
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    };
    assert_eq!(values("login_hint"), ["bob"], "{nav}");
    assert_eq!(values("ui_locales"), ["fr"], "{nav}");
    assert_eq!(values("prompt"), ["consent"], "{nav}");
}

#[test]
fn a_sign_in_refused_for_its_id_token_revokes_the_grant_it_brought() {
    let idp = Idp::new();
    // The ID token names an audience the client does not trust (OIDC Core 3.1.3.7).
    idp.set_extra_audience(Some("https://api.example"));
    let mut tab = Tab::new(&idp, "/");
    tab.start();
    tab.run();
    let tab = tab.login_as("alice");
    assert!(
        matches!(tab.state(), AuthState::Failed(AuthError::IdToken(_))),
        "{:?}",
        tab.state()
    );
    assert_eq!(idp.revoked().len(), 1);
}

#[test]
fn a_silent_restore_answered_by_a_4xx_page_forgets_the_session() {
    let idp = Idp::new();
    let tab = signed_in(&idp);
    let mut reloaded = tab.reload();
    idp.fail_next_token(403, "<html>Forbidden</html>");
    reloaded.start();
    reloaded.run();
    assert_eq!(reloaded.state(), AuthState::LoggedOut);
    assert!(
        !idp.0.borrow().local.contains_key("signed-in"),
        "the marker stays"
    );
}

#[test]
fn a_silent_sign_in_whose_keys_cannot_be_fetched_revokes_the_grant_it_brought() {
    let idp = Idp::new();
    let tab = signed_in(&idp);
    let mut reloaded = tab.reload();
    // The provider signs with a key the cached set lacks; its key set cannot be read.
    idp.rotate_key();
    idp.set_jwks_down(true);
    let revoked = idp.revoked().len();
    reloaded.start();
    reloaded.run();
    assert!(!reloaded.state().is_logged_in());
    assert_eq!(idp.revoked().len(), revoked + 1);
}

#[test]
fn tabs_follow_logout_and_login_and_ignore_their_own_messages() {
    let idp = Idp::new();
    let mut a = signed_in(&idp);
    let mut b = Tab::new(&idp, "/");
    b.tab_id = "b".into();
    b.start();
    b.run();
    assert!(
        b.state().is_logged_in(),
        "B restores from the provider session"
    );
    // Own messages are ignored.
    let a_id = a.tab_id.clone();
    a.dispatch(Event::Tab {
        from: a_id,
        message: TabMessage::Logout,
        here: "/".into(),
    });
    assert!(a.state().is_logged_in());
    // Logout in A signs B out.
    a.dispatch(Event::Logout(LogoutOptions::default().local_only(true)));
    b.dispatch(Event::Tab {
        from: a.tab_id.clone(),
        message: TabMessage::Logout,
        here: "/".into(),
    });
    assert_eq!(b.state(), AuthState::LoggedOut);
    // Login in A signs B in, with its own code exchange.
    let mut a = a.reload();
    a.start();
    a.run();
    let a = a.login_as("alice");
    let frames = b.frames_opened;
    b.dispatch(login_heard(&a.tab_id, "/"));
    b.run();
    assert_eq!(b.frames_opened, frames + 1);
    assert!(b.state().is_logged_in());
}

#[test]
fn a_frame_that_never_answers_times_out_to_signed_out() {
    let idp = Idp::new();
    idp.set_frame_hangs(true);
    let mut tab = Tab::new(&idp, "/");
    tab.start();
    tab.run();
    assert!(tab.state().is_pending());
    let deadline = tab.machine.next_deadline().unwrap();
    tab.now.mono = deadline;
    tab.now.wall += 10_000;
    tab.dispatch(Event::Timer);
    assert_eq!(tab.state(), AuthState::LoggedOut);
    assert!(tab.frames_closed >= 1);
    // A late answer is dropped.
    tab.deliver_late_frame();
    assert_eq!(tab.state(), AuthState::LoggedOut);
}

#[test]
fn waiting_callers_during_restore_get_the_token_after_it() {
    let idp = Idp::new();
    let tab = signed_in(&idp);
    let mut reloaded = tab.reload();
    reloaded.hold_fetches = true;
    reloaded.start();
    reloaded.want_token();
    assert!(reloaded.resolved.is_empty());
    reloaded.hold_fetches = false;
    reloaded.release_all();
    reloaded.run();
    assert_eq!(reloaded.resolved.len(), 1);
    assert!(reloaded.resolved[0].1.is_ok());
}

#[test]
fn publish_is_sent_only_on_change() {
    let idp = Idp::new();
    let mut tab = signed_in(&idp);
    let n = tab.published.len();
    tab.dispatch(Event::Activity);
    tab.want_token();
    assert_eq!(tab.published.len(), n);
    let commands = tab.machine.handle(tab.now, Event::Activity);
    assert!(!commands.iter().any(|c| matches!(c, Command::Publish(_))));
}

#[test]
fn provider_cache_expires_and_must_name_the_issuer() {
    let idp = Idp::new();
    let tab = signed_in(&idp);
    // Past its lifetime, the cache is not used.
    let mut later = tab.reload();
    later.advance(super::machine::PROVIDER_CACHE_TTL_MS);
    let before = idp.requests();
    later.start();
    later.run();
    assert!(later.state().is_logged_in());
    assert_eq!(
        idp.paths_since(before)[0],
        "/.well-known/openid-configuration"
    );
    // A cache naming another issuer is ignored (validated like a fetched document).
    let mut other = tab.reload();
    let cached = other.session["provider"].replace(ISS, "https://evil.example.com");
    other.session.insert("provider".into(), cached);
    let before = idp.requests();
    other.start();
    other.run();
    assert!(other.state().is_logged_in());
    assert_eq!(
        idp.paths_since(before)[0],
        "/.well-known/openid-configuration"
    );
    // Nothing secret is kept with it.
    assert!(!tab.session["provider"].contains("rt:"));
}

/// What the page's early script does: the template from session storage, fresh values.
fn early_start(tab: &mut harness::Tab, key: &str) {
    use crate::core::b64;
    use sha2::{Digest, Sha256};
    let cached: serde_json::Value = serde_json::from_str(&tab.session["provider"]).unwrap();
    let template = cached["silent"]
        .as_str()
        .expect("a silent request template");
    let verifier = "v".repeat(43);
    let challenge = b64::encode(&Sha256::digest(verifier.as_bytes()));
    let url = format!(
        "{template}&state=st8&nonce=n0nce&code_challenge={challenge}&code_challenge_method=S256"
    );
    tab.early_url = Some(url);
    tab.early = Some(super::machine::EarlyFrame {
        key: key.into(),
        state: "st8".into(),
        nonce: "n0nce".into(),
        verifier,
        created: tab.now.wall,
    });
}

#[test]
fn a_reload_takes_over_the_silent_sign_in_the_page_started_early() {
    let idp = Idp::new();
    let tab = signed_in(&idp);
    let mut reloaded = tab.reload();
    let key = Client::bind(OidcConfig::new(ISS, "spa"), APP).key(Slot::Provider);
    early_start(&mut reloaded, &key);
    let before = idp.requests();
    reloaded.start();
    reloaded.run();
    assert!(reloaded.state().is_logged_in(), "{:?}", reloaded.state());
    assert_eq!(reloaded.frames_adopted, 1);
    assert_eq!(reloaded.frames_opened, 0);
    assert_eq!(idp.paths_since(before), vec!["/auth", "/token"]);
}

#[test]
fn an_early_sign_in_for_another_client_or_after_logout_is_dropped() {
    let idp = Idp::new();
    let tab = signed_in(&idp);
    let mut other = tab.reload();
    early_start(&mut other, "oidc-leptos:https://other.example:spa:provider");
    other.start();
    other.run();
    assert_eq!(other.frames_adopted, 0);
    assert_eq!(other.frames_opened, 1);
    assert!(other.frames_closed >= 1, "the early frame is removed");
    assert!(other.state().is_logged_in());

    let mut tab = tab;
    tab.dispatch(Event::Logout(LogoutOptions::default().local_only(true)));
    let mut after = tab.reload();
    let key = Client::bind(OidcConfig::new(ISS, "spa"), APP).key(Slot::Provider);
    early_start(&mut after, &key);
    after.start();
    after.run();
    assert_eq!(after.frames_adopted, 0);
    assert!(after.frames_closed >= 1);
    assert_eq!(after.state(), AuthState::LoggedOut);
}

#[test]
fn an_early_sign_in_made_for_another_configuration_is_dropped() {
    let idp = Idp::new();
    let tab = signed_in(&idp);
    let mut reloaded = tab.reload();
    let key = Client::bind(OidcConfig::new(ISS, "spa"), APP).key(Slot::Provider);
    // The cached template is the old configuration's; the app now asks for more.
    early_start(&mut reloaded, &key);
    reloaded.tweak = |c| c.scopes(["profile", "email"]);
    reloaded.start();
    reloaded.run();
    assert_eq!(reloaded.frames_adopted, 0);
    assert!(reloaded.frames_closed >= 1, "the early frame is removed");
    assert_eq!(reloaded.frames_opened, 1, "a request of the app's own");
    assert!(reloaded.state().is_logged_in());
}

#[test]
fn a_mock_session_closes_the_silent_sign_in_the_page_started_early() {
    let idp = Idp::new();
    let tab = signed_in(&idp);
    let mut reloaded = tab.reload();
    let key = Client::bind(OidcConfig::new(ISS, "spa"), APP).key(Slot::Provider);
    early_start(&mut reloaded, &key);
    reloaded.tweak = |c| c.mock(crate::MockUser::new("mock-alice"));
    reloaded.start();
    reloaded.run();
    assert_eq!(reloaded.user().as_deref(), Some("mock-alice"));
    assert_eq!(reloaded.frames_closed, 1, "the early frame is removed");
    assert_eq!(reloaded.frames_adopted, 0);
}

/// A callback page whose app asks for the code exchange `waited` ms after the page's
/// script got its answer (an app that mounts its provider late).
fn callback_answered_early(idp: &Idp, waited: u64) -> Tab {
    let mut tab = Tab::new(idp, "/");
    tab.advance(3_600_000);
    tab.start();
    tab.run();
    tab.dispatch(Event::Login(LoginOptions::default()));
    let mut back = tab.follow_interactive("alice");
    back.exchange_waited = waited;
    back.start();
    back.run();
    back
}

#[test]
fn an_answer_that_waited_for_the_app_counts_from_when_it_came() {
    let idp = Idp::new();
    // Access tokens live 60 s: one answered 20 s before the app took it has 40 s
    // left, not 60.
    let tab = callback_answered_early(&idp, 20_000);
    assert!(tab.state().is_logged_in(), "{:?}", tab.state());
    assert_eq!(idp.refreshes(), 0);
    assert_eq!(
        tab.info.access_token_expires_at,
        Some(tab.now.wall + 40_000)
    );
    // The ID token (10 minutes) ran out while its answer waited, leeway (60 s)
    // included: refused, though its `iat` alone would make it look fresh.
    let tab = callback_answered_early(&idp, 661_000);
    assert!(
        matches!(
            tab.state(),
            AuthState::Failed(AuthError::IdToken(IdTokenError::Expired))
        ),
        "{:?}",
        tab.state()
    );
}

#[test]
fn start_info_debug_shows_no_secret() {
    let info = super::machine::StartInfo {
        page: super::machine::PageUrl {
            path: "/callback".into(),
            query: "?code=c0de-secret&state=s".into(),
            fragment: String::new(),
        },
        pending: Some(r#"{"code_verifier":"verifier-secret"}"#.into()),
        early: Some(super::machine::EarlyFrame {
            key: "k".into(),
            state: "state-secret".into(),
            nonce: "nonce-secret".into(),
            verifier: "early-verifier-secret".into(),
            created: 1,
        }),
        ..Default::default()
    };
    let shown = format!("{info:?}");
    assert!(!shown.contains("secret"), "{shown}");
    assert!(shown.contains("/callback"), "{shown}");
}

#[test]
fn the_key_set_is_fetched_beside_the_code_exchange() {
    let idp = Idp::new();
    let mut tab = Tab::new(&idp, "/");
    // The page before the sign-in leaves before its key prefetch is answered.
    tab.hold_fetches = true;
    tab.start();
    tab.run();
    tab.release_all();
    let urls: Vec<&str> = tab.held.iter().map(|(_, r)| r.url.as_str()).collect();
    assert_eq!(urls, vec![format!("{ISS}/jwks")]);
    tab.dispatch(Event::Login(LoginOptions::default()));
    let mut back = tab.follow_interactive("alice");
    back.hold_fetches = true;
    back.start();
    back.run();
    let urls: Vec<&str> = back.held.iter().map(|(_, r)| r.url.as_str()).collect();
    assert_eq!(urls, vec![format!("{ISS}/token"), format!("{ISS}/jwks")]);
    // Either order of answers completes the sign-in.
    back.held.reverse();
    back.hold_fetches = false;
    back.release_all();
    assert!(back.state().is_logged_in(), "{:?}", back.state());
}

#[test]
fn keys_fetched_before_the_sign_in_spare_the_callback_a_request() {
    let idp = Idp::new();
    let mut tab = Tab::new(&idp, "/");
    tab.start();
    tab.run();
    // The first page fetched the metadata, then the keys, and kept both.
    let provider = tab.session.values().find(|v| v.contains("jwks_uri"));
    assert!(
        provider.is_some_and(|p| p.contains("\"keys\":")),
        "{:?}",
        tab.session
    );
    tab.dispatch(Event::Login(LoginOptions::default()));
    let mut back = tab.follow_interactive("alice");
    back.hold_fetches = true;
    back.start();
    back.run();
    let urls: Vec<&str> = back.held.iter().map(|(_, r)| r.url.as_str()).collect();
    assert_eq!(urls, vec![format!("{ISS}/token")]);
    back.hold_fetches = false;
    back.release_all();
    assert!(back.state().is_logged_in(), "{:?}", back.state());
}

#[test]
fn a_call_after_expiry_retries_at_once_even_while_backing_off() {
    let idp = Idp::new();
    let mut tab = signed_in(&idp);
    idp.set_down(true);
    tab.advance(idp.lifetime_ms());
    tab.want_token();
    assert!(tab.last_answer().is_err());
    // The provider is back; the next call does not wait for the backoff timer.
    idp.set_down(false);
    tab.want_token();
    assert!(tab.last_answer().is_ok());
}

#[test]
fn max_age_is_sent_and_auth_time_required() {
    use std::time::Duration;
    let idp = Idp::new();
    let mut tab = signed_in_with(&idp, |c| c.max_age(Duration::from_secs(300)));
    assert!(tab.navigations.is_empty());
    tab.dispatch(Event::Logout(LogoutOptions::default().local_only(true)));
    let mut again = tab.reload();
    again.start();
    again.run();
    again.dispatch(Event::Login(LoginOptions::default()));
    let nav = again.navigations.last().unwrap().clone();
    assert!(nav.contains("max_age=300"), "{nav}");
    // OIDC Core 3.1.3.7 step 13: without `auth_time` the ID token is refused.
    idp.set_omit_auth_time(true);
    let mut back = again.follow_interactive("alice");
    back.start();
    back.run();
    match back.state() {
        AuthState::Failed(e) => assert!(e.to_string().contains("auth_time"), "{e}"),
        other => panic!("{other:?}"),
    }
}

fn idle_tab(idp: &Idp) -> harness::Tab {
    signed_in_with(idp, |c| {
        c.idle_timeout(std::time::Duration::from_secs(300))
            .auto_logout_warning(std::time::Duration::from_secs(60))
    })
}

#[test]
fn idle_countdown_starts_at_the_warning_and_logs_out_at_zero_to_the_second() {
    let idp = Idp::new();
    let mut tab = idle_tab(&idp);
    let start = tab.now.mono;
    // No activity: the countdown appears 240 s in, with 60 s left.
    tab.advance(239_999);
    tab.fire_timers();
    assert_eq!(tab.countdowns.last().copied().flatten(), None);
    assert!(tab.state().is_logged_in());
    tab.advance(1);
    tab.fire_timers();
    assert_eq!(tab.countdowns.last().copied(), Some(Some(60)));
    // Each second a new value, driven by the machine's deadlines.
    for expected in (1..60).rev() {
        let deadline = tab.machine.next_deadline().unwrap();
        assert_eq!(deadline, tab.now.mono + 1000, "one tick a second");
        tab.advance(1000);
        tab.fire_timers();
        assert_eq!(tab.countdowns.last().copied(), Some(Some(expected)));
        assert!(tab.state().is_logged_in());
    }
    // Zero: logged out, exactly 300 s after the last activity.
    tab.advance(999);
    tab.fire_timers();
    assert!(tab.state().is_logged_in());
    tab.advance(1);
    tab.fire_timers();
    assert_eq!(tab.now.mono - start, 300_000);
    assert_eq!(tab.state(), AuthState::LoggedOut);
    assert_eq!(tab.countdowns.last().copied(), Some(None));
    assert!(tab.info.idle_logged_out);
    // Every tab is told, the refresh token is revoked, and no silent restore follows.
    assert!(tab.broadcasts.contains(&TabMessage::Logout));
    assert_eq!(idp.revoked().len(), 1);
    assert!(tab.navigations.is_empty(), "stays on the current page");
    assert!(idp.0.borrow().local.contains_key("logged-out"));
    // No token is handed out any more.
    assert!(matches!(tab.token(), Err(AuthError::NotLoggedIn)));
}

#[test]
fn a_tab_back_after_the_idle_timeout_ran_out_unseen_is_logged_out() {
    // The page was frozen, hidden with its timers held back, or kept in the
    // back-forward cache: the timeout ran out with no timer to say so. Whatever
    // the user does first on return comes after it.
    for (event, what) in [
        (Event::Visibility(true), "shown again"),
        (Event::Activity, "used again"),
        (
            restored(&Idp::new()),
            "restored from the back-forward cache",
        ),
    ] {
        let idp = Idp::new();
        let mut tab = idle_tab(&idp);
        tab.dispatch(Event::Activity);
        tab.dispatch(Event::Visibility(false));
        tab.advance(300_000);
        // What the tabs last stored of the user's activity: this tab's own.
        let event = match event {
            Event::PageRestored { .. } => restored(&idp),
            other => other,
        };
        tab.dispatch(event);
        // Decided at the next timer, due at once.
        tab.fire_timers();
        assert_eq!(tab.state(), AuthState::LoggedOut, "{what}");
        assert!(tab.info.idle_logged_out, "{what}");
        assert!(tab.broadcasts.contains(&TabMessage::Logout), "{what}");
    }
    // The other tabs' activity, held back with the frozen page and heard after its
    // return, keeps the session: the user was working in another tab.
    let idp = Idp::new();
    let mut tab = idle_tab(&idp);
    tab.dispatch(Event::Visibility(false));
    tab.advance(300_000);
    tab.dispatch(Event::Visibility(true));
    // Meanwhile, no token is handed out: the session may be over.
    tab.want_token();
    assert!(tab.resolved.is_empty(), "{:?}", tab.resolved);
    tab.dispatch(Event::Tab {
        from: "other-tab".into(),
        message: TabMessage::Activity,
        here: "/".into(),
    });
    // The next timer comes a little later (in a browser, at once).
    tab.advance(2_000);
    tab.fire_timers();
    assert!(tab.state().is_logged_in(), "{:?}", tab.state());
    assert!(!tab.broadcasts.contains(&TabMessage::Logout));
    assert!(tab.last_answer().is_ok());
    // And the return counts as activity: the timeout runs from it, not from the
    // other tab's message.
    tab.advance(299_000);
    tab.fire_timers();
    assert!(tab.state().is_logged_in());
    // This tab's own timer, held back past the timeout, waits for the other tabs'
    // activity in the same way.
    tab.dispatch(Event::Visibility(false));
    tab.advance(305_000);
    tab.dispatch(Event::Timer);
    assert!(tab.state().is_logged_in(), "decided at the next timer");
    tab.dispatch(Event::Tab {
        from: "other-tab".into(),
        message: TabMessage::Activity,
        here: "/".into(),
    });
    tab.fire_timers();
    assert!(tab.state().is_logged_in(), "{:?}", tab.state());
    // Without any: logged out at the next timer.
    tab.advance(305_000);
    tab.dispatch(Event::Timer);
    assert!(tab.state().is_logged_in(), "decided at the next timer");
    tab.fire_timers();
    assert_eq!(tab.state(), AuthState::LoggedOut);
    // Just before it runs out, the user's return keeps the session.
    let idp = Idp::new();
    let mut tab = idle_tab(&idp);
    tab.dispatch(Event::Visibility(false));
    tab.advance(299_999);
    tab.dispatch(Event::Visibility(true));
    tab.advance(200_000);
    tab.fire_timers();
    assert!(tab.state().is_logged_in());
}

#[test]
fn activity_during_the_warning_cancels_it_and_is_shared_with_the_tabs() {
    let idp = Idp::new();
    let mut tab = idle_tab(&idp);
    tab.broadcasts.clear();
    tab.advance(250_000);
    tab.fire_timers();
    assert_eq!(tab.countdowns.last().copied(), Some(Some(50)));
    tab.dispatch(Event::Activity);
    assert_eq!(tab.countdowns.last().copied(), Some(None));
    // The other tabs hear of it at once, the countdown running.
    assert_eq!(tab.broadcasts, vec![TabMessage::Activity]);
    // A burst of activity is told once every few seconds.
    for _ in 0..10 {
        tab.advance(100);
        tab.dispatch(Event::Activity);
    }
    assert_eq!(tab.broadcasts.len(), 1);
    tab.advance(5_000);
    tab.dispatch(Event::Activity);
    assert_eq!(tab.broadcasts.len(), 2);
    // The idle clock starts again from the last activity.
    tab.advance(299_000);
    tab.fire_timers();
    assert!(tab.state().is_logged_in());
    tab.advance(1_000);
    tab.fire_timers();
    assert_eq!(tab.state(), AuthState::LoggedOut);
}

#[test]
fn activity_in_another_tab_keeps_this_one_signed_in() {
    let idp = Idp::new();
    let mut tab = idle_tab(&idp);
    // For 20 minutes the user works only in another tab.
    for _ in 0..40 {
        tab.advance(30_000);
        tab.dispatch(Event::Tab {
            from: "other".into(),
            message: TabMessage::Activity,
            here: "/".into(),
        });
        tab.fire_timers();
        assert!(tab.state().is_logged_in());
    }
    // Its own messages do not count: this tab's id.
    let own = tab.tab_id.clone();
    tab.advance(250_000);
    tab.dispatch(Event::Tab {
        from: own,
        message: TabMessage::Activity,
        here: "/".into(),
    });
    tab.advance(50_000);
    tab.fire_timers();
    assert_eq!(tab.state(), AuthState::LoggedOut);
}

/// A page back from the back-forward cache, with what the tabs stored meanwhile.
fn restored(idp: &Idp) -> Event {
    let local = &idp.0.borrow().local;
    Event::PageRestored {
        activity: local.get("activity").cloned(),
        logged_out: local.get("logged-out").cloned(),
    }
}

#[test]
fn a_page_back_from_the_cache_counts_the_activity_the_other_tabs_stored() {
    // A page in the back-forward cache hears no message: the user worked in another
    // tab meanwhile, which stored when.
    let idp = Idp::new();
    let mut cached = idle_tab(&idp);
    let mut other = idle_tab(&idp);
    for _ in 0..10 {
        cached.advance(30_000);
        other.advance(30_000);
        other.dispatch(Event::Activity);
    }
    cached.dispatch(restored(&idp));
    cached.fire_timers();
    assert!(cached.state().is_logged_in(), "{:?}", cached.state());
    assert!(!cached.broadcasts.contains(&TabMessage::Logout));
    // The idle clock runs from that activity: the countdown comes 240 s after it.
    cached.advance(239_000);
    cached.fire_timers();
    assert_eq!(cached.countdowns.last().copied().flatten(), None);
    cached.advance(1_000);
    cached.fire_timers();
    assert_eq!(cached.countdowns.last().copied().flatten(), Some(60));

    // Not a time ahead of the clock (set back since).
    let idp = Idp::new();
    let mut tab = idle_tab(&idp);
    tab.dispatch(Event::Activity);
    tab.advance(200_000);
    let ahead = format!(
        "{} {}",
        tab.now.wall + 3_600_000,
        stored_tag(&idp).expect("a tag")
    );
    tab.dispatch(Event::PageRestored {
        activity: Some(ahead),
        logged_out: None,
    });
    tab.advance(100_000);
    tab.fire_timers();
    assert_eq!(tab.state(), AuthState::LoggedOut);
}

#[test]
fn a_page_back_from_the_cache_after_an_account_switch_ends_its_own_session_only() {
    // While the page was in the cache another user signed in (and worked) in another
    // tab: this page's session, of the user before, ends here, without a logout
    // that would end the new user's in every tab.
    let idp = Idp::new();
    let mut cached = idle_tab(&idp);
    let frames = cached.frames_opened;
    cached.advance(400_000);
    let bob = format!("{} 42", cached.now.wall - 1_000);
    cached.dispatch(Event::PageRestored {
        activity: Some(bob),
        logged_out: None,
    });
    assert!(!cached.broadcasts.contains(&TabMessage::Logout));
    assert!(!idp.0.borrow().local.contains_key("logged-out"));
    assert_eq!(idp.revoked().len(), 1, "its own grant ends");
    // The hidden frame restores the tab as the provider's user now.
    assert_eq!(cached.frames_opened, frames + 1);
}

#[test]
fn a_page_back_from_the_cache_sees_an_account_switch_without_an_idle_timeout() {
    // No idle timeout, so no activity is ever shared: the sign-in itself stores who
    // the user is now. A page of alice's, cached while bob signed in in another tab,
    // finds bob's tag and follows.
    let idp = Idp::new();
    let a = signed_in(&idp);
    let mut cached = another_tab(&a, "b");
    let a = signed_in_again_as(a, "bob");
    assert_eq!(a.user().as_deref(), Some("bob"));
    let frames = cached.frames_opened;
    cached.dispatch(restored(&idp));
    cached.run();
    assert_eq!(cached.frames_opened, frames + 1);
    assert_eq!(cached.user().as_deref(), Some("bob"));
}

#[test]
fn a_page_back_from_the_cache_after_the_session_was_lost_elsewhere_ends_too() {
    // While the page was in the cache, another tab found the session gone at the
    // provider: its `Lost` did not reach the page. Storage tells it: the activity
    // every sign-in stores was cleared, and no logout left its marker.
    let idp = Idp::new();
    let mut a = signed_in(&idp);
    let mut cached = another_tab(&a, "b");
    assert!(cached.state().is_logged_in());
    // Back from the cache with the session alive elsewhere: it stays.
    cached.dispatch(restored(&idp));
    cached.run();
    assert!(cached.state().is_logged_in(), "{:?}", cached.state());
    idp.revoke_all();
    idp.end_sessions();
    a.advance(idp.lifetime_ms());
    a.want_token();
    assert!(a.broadcasts.contains(&TabMessage::Lost));
    let revoked = idp.revoked().len();
    let frames = cached.frames_opened;
    cached.dispatch(restored(&idp));
    cached.run();
    assert_eq!(cached.state(), AuthState::LoggedOut);
    assert!(cached.info.session_lost);
    assert!(!cached.broadcasts.contains(&TabMessage::Logout));
    // Its own token family ends too; no silent sign-in is tried.
    assert_eq!(idp.revoked().len(), revoked + 1);
    assert_eq!(cached.frames_opened, frames);
    // A sign-in since stores its activity over the mark.
    let a = signed_in_again_as(a, "alice");
    assert!(a.state().is_logged_in());
    assert_ne!(
        idp.0.borrow().local.get("activity").map(String::as_str),
        Some("lost")
    );

    // A silent sign-in begun after the loss goes on when the page comes back.
    let mut signing_in = Tab::new(&idp, "/");
    idp.set_frame_hangs(true);
    idp.0.borrow_mut().local.insert("activity", "lost".into());
    signing_in.start();
    signing_in.run();
    assert_eq!(signing_in.state(), AuthState::Pending);
    signing_in.dispatch(restored(&idp));
    assert_eq!(signing_in.state(), AuthState::Pending);
    assert!(!signing_in.info.session_lost);
    idp.set_frame_hangs(false);

    // No activity stored at all (a write that failed, storage cleared by the app or
    // the user) proves nothing: the session stays.
    let idp = Idp::new();
    let mut cached = signed_in(&idp);
    cached.dispatch(Event::PageRestored {
        activity: None,
        logged_out: None,
    });
    cached.run();
    assert!(cached.state().is_logged_in(), "{:?}", cached.state());

    // A mock session stores no activity: it stays.
    let mut mock = Tab::new(&idp, "/");
    mock.tweak = |c| c.mock(crate::MockUser::new("mock-alice"));
    mock.start();
    mock.run();
    mock.dispatch(Event::PageRestored {
        activity: None,
        logged_out: None,
    });
    assert_eq!(mock.user().as_deref(), Some("mock-alice"));
}

#[test]
fn a_session_lost_elsewhere_revokes_this_tabs_own_grant() {
    // Each tab holds a token family of its own, which the provider may still honour
    // when another tab's was refused: it is revoked as after a logout elsewhere
    // (RFC 7009 section 2), and so is the fresh one a refresh in flight brings.
    let idp = Idp::new();
    let mut tab = signed_in(&idp);
    let revoked = idp.revoked().len();
    let lost = |tab: &mut Tab| {
        tab.dispatch(Event::Tab {
            from: "other".into(),
            message: TabMessage::Lost,
            here: "/".into(),
        })
    };
    lost(&mut tab);
    tab.run();
    assert_eq!(tab.state(), AuthState::LoggedOut);
    assert_eq!(idp.revoked().len(), revoked + 1);

    let mut tab = refresh_in_flight(&idp);
    lost(&mut tab);
    assert_eq!(tab.state(), AuthState::LoggedOut);
    let revoked = idp.revoked().len();
    tab.hold_fetches = false;
    tab.release_all();
    tab.run();
    assert_eq!(tab.state(), AuthState::LoggedOut);
    // The token the refresh presented, and the one its answer brought.
    assert_eq!(idp.revoked().len(), revoked + 2, "{:?}", idp.revoked());
}

/// `cached`, hidden before, comes back from the back-forward cache `ms` later:
/// whether it opened the silent frame.
fn back_opens_a_frame(idp: &Idp, cached: &mut Tab, ms: u64) -> bool {
    let frames = cached.frames_opened;
    cached.advance(ms);
    cached.dispatch(restored(idp));
    cached.run();
    cached.frames_opened > frames
}

#[test]
fn a_signed_out_page_back_from_the_cache_follows_a_sign_in_made_meanwhile() {
    // The page was signed out when it left; the user then signed in in another tab,
    // whose `Login` did not reach the cached page. Back, it finds the activity that
    // sign-in stored, later than when it was hidden, and restores through the frame.
    let idp = Idp::new();
    let mut cached = signed_out(&idp);
    cached.dispatch(Event::Visibility(false));
    // Back before anything happened elsewhere: nothing to follow.
    assert!(!back_opens_a_frame(&idp, &mut cached, 1_000));
    cached.dispatch(Event::Visibility(false));
    let mut other = another_tab(&cached, "b");
    other.advance(1_000);
    let other = signed_in_again_as(other, "alice");
    assert!(other.state().is_logged_in());
    assert!(back_opens_a_frame(&idp, &mut cached, 2_000));
    assert_eq!(cached.user().as_deref(), Some("alice"));

    // Activity stored before the page was hidden (a session in a tab closed since)
    // is not followed.
    let idp = Idp::new();
    drop(signed_in(&idp));
    idp.end_sessions();
    let mut cached = Tab::new(&idp, "/");
    cached.advance(5_000);
    cached.start();
    cached.run();
    assert_eq!(cached.state(), AuthState::LoggedOut);
    cached.dispatch(Event::Visibility(false));
    assert!(!back_opens_a_frame(&idp, &mut cached, 1_000));
}

#[test]
fn the_stored_activity_names_the_user_signed_in_last() {
    // With an idle timeout: alice worked, then bob signed in in another tab and has
    // not moved yet. A page of bob's back from the cache must not take alice's stored
    // activity for an account switch.
    let idp = Idp::new();
    let mut alice = idle_tab(&idp);
    alice.advance(10_000);
    alice.dispatch(Event::Activity);
    let alice_tag = stored_tag(&idp);
    assert!(alice_tag.is_some());
    let mut bob = signed_in_again_as(another_tab(&alice, "bob"), "bob");
    assert_eq!(bob.user().as_deref(), Some("bob"));
    assert_ne!(stored_tag(&idp), alice_tag);
    let revoked = idp.revoked().len();
    bob.dispatch(restored(&idp));
    assert_eq!(bob.user().as_deref(), Some("bob"));
    assert_eq!(idp.revoked().len(), revoked);
}

/// The user tag of the activity the tabs stored.
fn stored_tag(idp: &Idp) -> Option<String> {
    let local = &idp.0.borrow().local;
    let activity = local.get("activity")?;
    Some(activity.split_once(' ')?.1.to_owned())
}

#[test]
fn a_page_back_from_the_cache_after_a_logout_elsewhere_is_logged_out() {
    let idp = Idp::new();
    let mut cached = signed_in(&idp);
    let mut other = signed_in(&idp);
    other.dispatch(Event::Logout(LogoutOptions::default().local_only(true)));
    // The message did not reach the cached page; the marker is in storage.
    cached.dispatch(restored(&idp));
    assert_eq!(cached.state(), AuthState::LoggedOut);
    assert!(
        idp.revoked().len() >= 2,
        "its own grant ends too: {:?}",
        idp.revoked()
    );
    // And the activity the tabs stored is gone with the session.
    assert!(!idp.0.borrow().local.contains_key("activity"));
}

#[test]
fn the_idle_timeout_defaults_to_the_provider_session_idle_lifetime() {
    let idp = Idp::new();
    idp.set_refresh_expires_in(Some(600));
    let mut tab = signed_in_with(&idp, |c| c.renew_ahead(false));
    assert_eq!(tab.info.idle_timeout_ms, Some(600_000));
    tab.advance(540_000);
    tab.fire_timers();
    assert_eq!(tab.countdowns.last().copied(), Some(Some(60)));
    tab.advance(60_000);
    tab.fire_timers();
    assert_eq!(tab.state(), AuthState::LoggedOut);

    // Nothing tells it and none is configured: no idle timeout.
    let idp = Idp::new();
    let mut tab = signed_in_with(&idp, |c| c.renew_ahead(false));
    assert_eq!(tab.info.idle_timeout_ms, None);
    tab.advance(idp.lifetime_ms() / 2);
    tab.fire_timers();
    assert!(tab.countdowns.iter().all(Option::is_none));
    // Turned off: none either, even when the tokens tell one.
    let idp = Idp::new();
    idp.set_refresh_expires_in(Some(600));
    let tab = signed_in_with(&idp, |c| c.auto_logout(false));
    assert_eq!(tab.info.idle_timeout_ms, None);
}

#[test]
fn an_offline_tab_logs_out_locally_and_revokes_when_back_online() {
    let idp = Idp::new();
    let mut tab = idle_tab(&idp);
    tab.dispatch(Event::Online(false));
    let before = idp.requests();
    tab.advance(300_000);
    tab.fire_timers();
    assert_eq!(tab.state(), AuthState::LoggedOut);
    assert_eq!(idp.requests(), before, "nothing sent while offline");
    tab.dispatch(Event::Online(true));
    assert_eq!(idp.revoked().len(), 1);
    // The provider unreachable although the browser says online: kept for later.
    let idp = Idp::new();
    let mut tab = idle_tab(&idp);
    idp.set_down(true);
    tab.advance(300_000);
    tab.fire_timers();
    assert_eq!(tab.state(), AuthState::LoggedOut);
    idp.set_down(false);
    tab.dispatch(Event::Online(true));
    assert_eq!(idp.revoked().len(), 1);
    tab.dispatch(Event::Online(true));
    assert_eq!(idp.revoked().len(), 1, "revoked once");
}

#[test]
fn an_idle_logout_goes_where_the_app_says_once_the_revocation_is_done() {
    let idp = Idp::new();
    let mut tab = signed_in_with(&idp, |c| {
        c.idle_timeout(std::time::Duration::from_secs(120))
            .auto_logout_to("/signed-out?why=idle")
    });
    tab.hold_fetches = true;
    tab.advance(120_000);
    tab.fire_timers();
    assert_eq!(tab.state(), AuthState::LoggedOut);
    assert!(tab.navigations.is_empty(), "waits for the revocation");
    tab.hold_fetches = false;
    tab.release_all();
    assert_eq!(tab.navigations, vec!["/signed-out?why=idle".to_owned()]);
}

#[test]
fn an_idle_logout_goes_where_the_app_says_when_the_revocation_fails() {
    let idp = Idp::new();
    let mut tab = signed_in_with(&idp, |c| {
        c.idle_timeout(std::time::Duration::from_secs(120))
            .auto_logout_to("/signed-out?why=idle")
    });
    // The provider cannot be reached: the page does not wait for it for ever.
    idp.set_down(true);
    tab.advance(120_000);
    tab.fire_timers();
    assert_eq!(tab.state(), AuthState::LoggedOut);
    assert_eq!(tab.navigations, vec!["/signed-out?why=idle".to_owned()]);
}

#[test]
fn a_logout_revokes_the_grant_a_token_request_in_flight_brings() {
    // A refresh in flight: its answer's rotated refresh token is revoked when it
    // comes (the one sent is spent), not left live at the provider.
    let idp = Idp::new();
    let mut tab = refresh_in_flight(&idp);
    tab.dispatch(Event::Logout(LogoutOptions::default().local_only(true)));
    tab.hold_fetches = false;
    tab.release_all();
    tab.run();
    let revoked = idp.revoked();
    assert!(revoked.iter().any(|t| t.ends_with(":1")), "{revoked:?}");
    assert_eq!(tab.state(), AuthState::LoggedOut);
    // Another tab's logout during this tab's silent sign-in: the grant its code
    // exchange brings is revoked too.
    let idp = Idp::new();
    let signed = signed_in(&idp);
    let mut tab = signed.reload();
    tab.tab_id = "b".into();
    tab.start();
    tab.run();
    assert!(tab.state().is_logged_in());
    let mut tab = tab.reload();
    tab.hold_fetches = true;
    tab.start();
    tab.run();
    let before = idp.revoked().len();
    // Everything up to the token request, which stays in flight.
    while tab.held.iter().all(|(_, r)| !r.url.ends_with("/token")) {
        assert!(!tab.held.is_empty(), "no token request");
        tab.release_one();
    }
    tab.dispatch(Event::Tab {
        from: "a".into(),
        message: TabMessage::Logout,
        here: "/".into(),
    });
    tab.hold_fetches = false;
    tab.release_all();
    tab.run();
    assert_eq!(tab.state(), AuthState::LoggedOut);
    assert_eq!(idp.revoked().len(), before + 1);
}

#[test]
fn a_second_logout_click_keeps_the_first_ones_id_token_hint() {
    let idp = Idp::new();
    let mut tab = signed_in(&idp);
    tab.dispatch(Event::Logout(LogoutOptions::default()));
    tab.dispatch(Event::Logout(LogoutOptions::default()));
    assert_eq!(tab.navigations.len(), 1, "{:?}", tab.navigations);
    assert!(
        tab.navigations[0].contains("id_token_hint="),
        "{:?}",
        tab.navigations
    );
}

#[test]
fn a_logout_from_another_tab_revokes_this_tabs_grant() {
    let idp = Idp::new();
    let mut tab = signed_in(&idp);
    tab.dispatch(Event::Tab {
        from: "other".into(),
        message: TabMessage::Logout,
        here: "/".into(),
    });
    assert_eq!(tab.state(), AuthState::LoggedOut);
    assert_eq!(idp.revoked().len(), 1);
}

#[test]
fn session_info_tells_how_the_session_came_and_renews() {
    let idp = Idp::new();
    let mut tab = signed_in(&idp);
    assert_eq!(
        tab.info.signed_in_via,
        Some(crate::SignInMethod::Interactive)
    );
    assert_eq!(tab.info.renewals, 0);
    let expires = tab.info.access_token_expires_at.unwrap();
    assert_eq!(expires, tab.now.wall + idp.lifetime_ms());
    tab.advance(idp.lifetime_ms());
    tab.want_token();
    assert_eq!(tab.info.renewals, 1);
    assert_eq!(
        tab.info.last_renewal,
        Some((tab.now.wall, crate::RenewalMethod::Refresh))
    );
    let mut reloaded = tab.reload();
    reloaded.start();
    reloaded.run();
    assert_eq!(
        reloaded.info.signed_in_via,
        Some(crate::SignInMethod::Frame)
    );
    // No secret in it.
    let shown = format!("{:?}", reloaded.info);
    assert!(!shown.contains(&idp.last_access_token()));
}

#[test]
fn a_mock_session_renews_its_token_without_a_provider_and_never_spins() {
    // The configured issuer on the app's site (a frame could renew) or not.
    for origin in [APP, "http://127.0.0.1:3000"] {
        let idp = Idp::new();
        let mut tab = Tab::with_origin(&idp, origin, "/");
        tab.tweak = |c| c.mock(crate::MockUser::new("mock-alice"));
        tab.start();
        tab.run();
        let first = tab.token().unwrap();
        // Two days of work: the mock token (24 h) falls due, and is renewed.
        for _ in 0..(2 * 24 * 60) {
            tab.advance(60_000);
            tab.dispatch(Event::Activity);
            tab.fire_timers();
        }
        let now = tab.token().unwrap();
        assert_ne!(now.secret(), first.secret(), "{origin}");
        assert_eq!(tab.user().as_deref(), Some("mock-alice"), "{origin}");
        assert_eq!(idp.requests(), 0, "no provider");
    }
}

#[test]
fn mock_mode_signs_in_without_a_provider_and_toggles() {
    let idp = Idp::new();
    let mut tab = Tab::new(&idp, "/");
    tab.tweak = |c| {
        c.mock(
            crate::MockUser::new("mock-alice")
                .name("Alice")
                .claim("roles", ["admin"])
                .audience("todo-api"),
        )
        .idle_timeout(std::time::Duration::from_secs(60))
        .auto_logout_warning(std::time::Duration::from_secs(10))
    };
    tab.start();
    tab.run();
    assert_eq!(idp.requests(), 0, "no provider");
    assert_eq!(tab.user().as_deref(), Some("mock-alice"));
    assert_eq!(tab.info.signed_in_via, Some(crate::SignInMethod::Mock));
    let user = tab.state().user().unwrap().clone();
    assert_eq!(user.display_name(), "Alice");
    #[derive(serde::Deserialize, Clone)]
    struct Roles {
        roles: Vec<String>,
    }
    assert_eq!(user.typed::<Roles>().unwrap().additional().roles, ["admin"]);
    // The access token: unsigned, naming the user and the API.
    let token = tab.token().unwrap();
    let parts: Vec<&str> = token.secret().split('.').collect();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[2], "");
    let header = String::from_utf8(crate::core::b64::decode(parts[0]).unwrap()).unwrap();
    assert!(header.contains("\"alg\":\"none\""), "{header}");
    let claims: serde_json::Value =
        serde_json::from_slice(&crate::core::b64::decode(parts[1]).unwrap()).unwrap();
    assert_eq!(claims["sub"], "mock-alice");
    assert_eq!(claims["aud"], "todo-api");
    // Logout and login toggle, with no navigation; the countdown works as with a provider.
    tab.dispatch(Event::Logout(LogoutOptions::default()));
    assert_eq!(tab.state(), AuthState::LoggedOut);
    tab.dispatch(Event::Login(LoginOptions::default()));
    assert!(tab.state().is_logged_in());
    assert!(tab.navigations.is_empty());
    tab.advance(50_000);
    tab.fire_timers();
    assert_eq!(tab.countdowns.last().copied(), Some(Some(10)));
    tab.advance(10_000);
    tab.fire_timers();
    assert_eq!(tab.state(), AuthState::LoggedOut);
    assert_eq!(idp.requests(), 0);
    // Configured signed out at start.
    let mut out = Tab::new(&idp, "/");
    out.tweak = |c| c.mock(crate::MockUser::new("bob").signed_in(false));
    out.start();
    out.run();
    assert_eq!(out.state(), AuthState::LoggedOut);
}

#[test]
fn the_last_activity_before_a_pause_is_told_to_the_other_tabs_too() {
    // Shared every 5 s at most (300 s timeout, 60 s warning): the user's last move,
    // 4.9 s after one told, is told when those 5 s are up. Untold, the other tabs
    // would log out (and this one with them) 4.9 s early, into its countdown.
    let idp = Idp::new();
    let mut tab = idle_tab(&idp);
    tab.dispatch(Event::Activity);
    assert_eq!(tab.broadcasts.last(), Some(&TabMessage::Activity));
    tab.broadcasts.clear();
    tab.advance(4_900);
    tab.dispatch(Event::Activity);
    assert!(tab.broadcasts.is_empty(), "{:?}", tab.broadcasts);
    tab.advance(99);
    tab.fire_timers();
    assert!(tab.broadcasts.is_empty(), "{:?}", tab.broadcasts);
    tab.advance(1);
    tab.fire_timers();
    assert_eq!(tab.broadcasts, [TabMessage::Activity]);
    // Told once: nothing more until the user moves again.
    tab.advance(60_000);
    tab.fire_timers();
    assert_eq!(tab.broadcasts, [TabMessage::Activity]);
    // A move held back, then the page is hidden (or left): told at once, as no timer
    // may run here for a while.
    tab.dispatch(Event::Activity);
    tab.advance(1_000);
    tab.dispatch(Event::Activity);
    tab.broadcasts.clear();
    tab.dispatch(Event::Visibility(false));
    assert_eq!(tab.broadcasts, [TabMessage::Activity]);
    tab.dispatch(Event::Visibility(true));
    tab.broadcasts.clear();
    // Signed out with a move held back: nothing is told.
    tab.advance(10_000);
    tab.dispatch(Event::Activity);
    tab.advance(1_000);
    tab.dispatch(Event::Activity);
    assert_eq!(tab.broadcasts.len(), 1, "{:?}", tab.broadcasts);
    tab.dispatch(Event::Logout(
        crate::LogoutOptions::default().local_only(true),
    ));
    tab.broadcasts.clear();
    tab.advance(10_000);
    tab.fire_timers();
    assert!(tab.broadcasts.is_empty(), "{:?}", tab.broadcasts);
}

#[test]
fn activity_is_shared_often_enough_for_a_short_quiet_time() {
    // Warning 8 s after the last activity: sharing every 5 s would let the other tabs'
    // warnings flash while the user works here.
    let idp = Idp::new();
    let mut tab = signed_in_with(&idp, |c| {
        c.idle_timeout(std::time::Duration::from_secs(12))
            .auto_logout_warning(std::time::Duration::from_secs(4))
    });
    tab.broadcasts.clear();
    for _ in 0..20 {
        tab.advance(1_000);
        tab.dispatch(Event::Activity);
    }
    // Every 4 s (half the quiet time) at most, and at least that often.
    assert_eq!(tab.broadcasts.len(), 5, "{:?}", tab.broadcasts);
}

#[test]
fn the_apps_claims_type_may_name_standard_claims() {
    #[derive(serde::Deserialize, Clone)]
    struct Claims {
        email: Option<String>,
        preferred_username: Option<String>,
        #[serde(default)]
        roles: Vec<String>,
    }
    let idp = Idp::new();
    let mut tab = Tab::new(&idp, "/");
    tab.tweak = |c| {
        c.mock(
            crate::MockUser::new("ann")
                .email("ann@example.com")
                .claim("preferred_username", "ann")
                .claim("roles", ["admin"]),
        )
    };
    tab.start();
    tab.run();
    let user = tab.state().user().unwrap().typed::<Claims>().unwrap();
    // Both the standard claims and the app's type see them.
    assert_eq!(user.standard().email.as_deref(), Some("ann@example.com"));
    assert_eq!(user.additional().email.as_deref(), Some("ann@example.com"));
    assert_eq!(user.additional().preferred_username.as_deref(), Some("ann"));
    assert_eq!(user.additional().roles, ["admin"]);
}

#[test]
fn mock_claims_cannot_override_the_session_members_and_any_name_is_escaped() {
    let idp = Idp::new();
    let mut tab = Tab::new(&idp, "/");
    tab.tweak = |c| {
        c.mock(
            crate::MockUser::new("kim")
                .claim("iss", "https://evil.example")
                .claim("sub", "admin")
                .claim("we\"ird\\name", 1),
        )
    };
    tab.start();
    tab.run();
    let user = tab.state().user().unwrap().clone();
    assert_eq!(user.sub(), "kim");
    assert_eq!(user.claims().iss, ISS);
    let all: serde_json::Value = user.claims_as().unwrap();
    assert_eq!(all["we\"ird\\name"], 1);
}

#[test]
fn the_early_script_redeems_a_callback_only_within_the_pending_lifetime() {
    // The script's own copy of the rule `PendingAuthorization::validate_callback`
    // applies: a code the app would refuse as expired is not sent. (Read in the
    // script's source: the shipped copy is that source minified, which
    // `scripts/minify-js --check` keeps true.)
    let rule = format!(
        "Date.now() / 1000 - p.created_at < {}",
        crate::core::PENDING_MAX_AGE
    );
    assert!(include_str!("early.js").contains(&rule));
}

#[test]
fn the_early_script_uses_cached_metadata_only_as_long_as_the_app_does() {
    // Its copy of `PROVIDER_CACHE_TTL_MS` (as above, read in the script's source).
    let rule = format!("now - c.at < {}", super::machine::PROVIDER_CACHE_TTL_MS);
    assert!(include_str!("early.js").contains(&rule));
}

#[test]
fn the_cached_provider_tells_the_early_script_how_long_its_frame_may_wait() {
    use std::time::Duration;
    let idp = Idp::new();
    let tab = signed_in_with(&idp, |c| c.silent_timeout(Duration::from_secs(30)));
    let cached: serde_json::Value = serde_json::from_str(&tab.session["provider"]).unwrap();
    // A fifth of the silent timeout, as the app's own frame waits: not the script's
    // 2 s default, which would give up on a provider that redirects slowly.
    assert_eq!(cached["grace"], 6_000);
    assert!(cached["silent"]
        .as_str()
        .is_some_and(|s| s.contains("prompt=none")));
}

#[test]
fn the_page_script_can_be_inlined_and_brings_every_function_the_driver_imports() {
    // Inline in a <script> element, `</` would end it early, and `<!--` changes
    // how the HTML parser reads it.
    assert!(!EARLY_RESTORE_SCRIPT.contains("</"));
    assert!(!EARLY_RESTORE_SCRIPT.contains("<!--"));
    let object = EARLY_RESTORE_SCRIPT
        .split_once("window.__oidcLeptos=Object.freeze({")
        .and_then(|(_, rest)| rest.split_once("})"))
        .map(|(members, _)| members)
        .expect("the script defines the driver's object");
    let members: Vec<(&str, &str)> = object
        .split(',')
        .filter_map(|m| m.split_once(':'))
        .collect();
    // Its version is the one the app checks.
    let version = format!("{SCRIPT_VERSION:?}");
    assert!(members.contains(&("v", version.as_str())), "{members:?}");
    // Every function the wasm imports from it (`src/browser/mod.rs`): a name missing
    // there would throw at its first call.
    let driver = include_str!("../browser/mod.rs");
    let marker = "#[wasm_bindgen(js_name = ";
    let imports: Vec<&str> = driver
        .match_indices(marker)
        .filter_map(|(at, _)| driver[at + marker.len()..].split_once(')'))
        .map(|(name, _)| name)
        .collect();
    assert_eq!(imports.len(), 14, "{imports:?}");
    for name in imports {
        assert!(
            members.iter().any(|(member, _)| *member == name),
            "{name} is missing: {members:?}"
        );
    }
}

#[test]
fn a_tab_stores_its_activity_only_over_an_older_one_of_the_same_user() {
    let now = 1_700_000_010_000;
    // Another tab's later move of the same user stays: the page leaving with an
    // older move had not heard of it yet.
    assert!(!activity_replaces(
        Some("1700000002000 7"),
        "1700000000000 7",
        now
    ));
    // An older or equal one, another user's, one dated ahead of the clock (set back
    // since), the mark of a lost session, or nothing: replaced.
    assert!(activity_replaces(
        Some("1700000000000 7"),
        "1700000002000 7",
        now
    ));
    assert!(activity_replaces(
        Some("1700000002000 7"),
        "1700000002000 7",
        now
    ));
    assert!(activity_replaces(
        Some("1700000002000 8"),
        "1700000000000 7",
        now
    ));
    assert!(activity_replaces(
        Some("1700000020000 7"),
        "1700000000000 7",
        now
    ));
    assert!(activity_replaces(Some("lost"), "1700000000000 7", now));
    assert!(activity_replaces(None, "1700000000000 7", now));
}
