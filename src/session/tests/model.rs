//! A model check of the tabs of one browser: every interleaving (breadth-first, each
//! distinct state once) of signed-in tabs, a provider that rotates refresh tokens and
//! revokes the family on reuse, a broadcast channel that can drop and duplicate, the
//! user asking for tokens, logging out and letting time pass. Six checks, each with
//! its own budget: three tabs; a token answer lost after the provider carried the
//! request out, with the hidden frame the session then renews through; the same with
//! that frame failing (an error page, or `login_required` as the user's session at
//! the provider ends); two tabs renewing again and again (rotated tokens presented);
//! two tabs with an idle timeout and the user's moves; two tabs, one of which goes
//! into the back-forward cache (hidden, deaf to the channel, its timers held) and
//! comes back to read what the other stored. Each asserts that the paths it is for
//! were reached.
//!
//! Properties, checked in every state reached:
//! - no refresh token is ever presented twice (so reuse detection never fires), not
//!   even the one whose answer was lost, except once as the last resort of a tab
//!   whose frame failed;
//! - a tab leaves the signed-in state only through a logout (its own or another tab's)
//!   or the end of the user's session at the provider, and logs out only when the
//!   user does (in it, or in a tab that told it);
//! - a tab told of a logout is signed out at once, and from then on sends no refresh
//!   and hands out no token; a page back from the cache that finds a logout, or a
//!   session lost at the provider, in storage is signed out as it comes back;
//! - a timer never fires again and again without a change;
//! - with an idle timeout, a tab logs out by itself only once the
//!   user has done nothing, in any tab, for that long;
//! - when nothing is in flight, every request for a token has been answered, and after
//!   a logout whose message was delivered no tab is signed in.
//!
//! The frame answers (or fails) within its timeout: time does not leap while one is
//! open. (A frame that never answers is the harness's tests'.)

use std::cell::RefCell;
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::time::Instant;

use serde_json::json;

use super::harness::{signed_in_with, verify, Idp, Tab, ISS};
use crate::core::jose::{AlgorithmPolicy, JoseError, JwkSet, VerifiedJws};
use crate::core::reveal;
use crate::core::{form, HttpResponse};
use crate::session::machine::{
    store_wins, Command, Event, Machine, Now, ReqId, TabMessage, SESSION_LOST,
};
use crate::session::{AuthState, LogoutOptions, OidcConfig, Slot};
use crate::test_support::EcKey;

#[derive(Clone, Debug, Default)]
struct Provider {
    /// Current generation of each refresh-token family (revoked ones stay; `revoked`
    /// names them).
    families: HashMap<u32, u32>,
    revoked: HashSet<u32>,
    presented: HashSet<String>,
    /// Authorization codes not yet redeemed, with the nonce of their request.
    codes: HashMap<String, Option<String>>,
    /// The last code or family number handed out (after the harness's).
    next: u32,
    /// Codes redeemed: sign-ins through the frame.
    exchanges: u32,
    /// The user's session at the provider ended: a frame gets `login_required`.
    session_ended: bool,
    /// Refresh tokens presented a second time, as the last resort after a frame
    /// failed (the provider then ends their family).
    replayed: HashSet<String>,
    /// Refresh tokens whose answer was lost on the way back.
    lost: HashSet<String>,
}

thread_local! {
    /// ID tokens signed so far, by their claims.
    static SIGNED: RefCell<HashMap<String, String>> = RefCell::new(HashMap::new());
    /// Signature checks made so far, by token, key set and policy.
    static VERIFIED: RefCell<HashMap<String, Result<VerifiedJws, JoseError>>> =
        RefCell::new(HashMap::new());
}

/// An ID token for `claims`, signed with the harness provider's key (the tabs hold
/// its key set). Signing is deterministic (RFC 6979), so each is signed once.
fn sign(claims: &serde_json::Value) -> String {
    let text = claims.to_string();
    SIGNED.with(|signed| {
        signed
            .borrow_mut()
            .entry(text)
            .or_insert_with(|| EcKey::new(1, "k1").jwt(None, claims))
            .clone()
    })
}

/// The harness's signature check, each distinct one made once: its answer depends
/// on nothing else.
fn verify_once(
    token: &str,
    keys: &JwkSet,
    policy: &AlgorithmPolicy,
) -> Result<VerifiedJws, JoseError> {
    let key = reveal::with(|| format!("{token}|{keys:?}|{policy:?}"));
    VERIFIED.with(|verified| {
        verified
            .borrow_mut()
            .entry(key)
            .or_insert_with(|| verify(token, keys, policy))
            .clone()
    })
}

impl Provider {
    /// The silent frame's request: alice is signed in at the provider, so a code
    /// (unless her session there ended).
    fn authorize(&mut self, url: &str) -> String {
        let query = url.split_once('?').map_or("", |(_, q)| q);
        let p: HashMap<String, String> = form::parse(query).into_iter().collect();
        assert_eq!(p.get("prompt").map(String::as_str), Some("none"));
        if self.session_ended {
            return form::serialize([
                ("error", "login_required"),
                ("state", p["state"].as_str()),
                ("iss", ISS),
            ]);
        }
        self.next += 1;
        let code = format!("code{}", self.next);
        self.codes.insert(code.clone(), p.get("nonce").cloned());
        form::serialize([
            ("code", code.as_str()),
            ("state", &p["state"]),
            ("iss", ISS),
        ])
    }

    /// The code exchange: a new token family and an ID token for alice.
    fn exchange(&mut self, code: &str, now: Now) -> HttpResponse {
        let Some(nonce) = self.codes.remove(code) else {
            return HttpResponse {
                status: 400,
                headers: vec![],
                body: json!({"error": "invalid_grant"}).to_string().into_bytes(),
            };
        };
        self.exchanges += 1;
        self.next += 1;
        let f = self.next;
        self.families.insert(f, 1);
        let iat = now.wall / 1000;
        let mut claims = json!({"iss": ISS, "sub": "alice", "aud": "spa", "iat": iat, "exp": iat + 600, "name": "alice"});
        if let Some(n) = nonce {
            claims["nonce"] = n.into();
        }
        let body = json!({
            "access_token": format!("at:{f}:1"),
            "token_type": "Bearer",
            "expires_in": 60,
            "refresh_token": format!("rt:{f}:1"),
            "id_token": sign(&claims),
        });
        HttpResponse {
            status: 200,
            headers: vec![],
            body: body.to_string().into_bytes(),
        }
    }

    /// Answers a refresh request; returns the response and whether the token was
    /// presented before.
    fn refresh(&mut self, token: &str) -> (HttpResponse, bool) {
        let replay = !self.presented.insert(token.to_owned());
        let parts: Vec<&str> = token.split(':').collect();
        let (f, g): (u32, u32) = (parts[1].parse().unwrap(), parts[2].parse().unwrap());
        let current = *self.families.entry(f).or_insert(g);
        let body = if self.revoked.contains(&f) || current != g {
            self.revoked.insert(f);
            json!({"error": "invalid_grant"})
        } else {
            self.families.insert(f, g + 1);
            json!({
                "access_token": format!("at:{f}:{}", g + 1),
                "token_type": "Bearer",
                "expires_in": 60,
                "refresh_token": format!("rt:{f}:{}", g + 1),
            })
        };
        let status = if body.get("error").is_some() {
            400
        } else {
            200
        };
        let response = HttpResponse {
            status,
            headers: vec![],
            body: body.to_string().into_bytes(),
        };
        (response, replay)
    }
}

// Test data, cloned per state: boxing the large answer would only add allocations.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
enum Item {
    /// A request on its way to the provider.
    Request {
        tab: usize,
        req: ReqId,
        body: String,
    },
    /// Its answer on the way back (or its loss: the request was carried out).
    Response {
        tab: usize,
        req: ReqId,
        response: Result<HttpResponse, String>,
    },
    /// A hidden frame on its way to the provider and back.
    Frame { tab: usize, req: ReqId, url: String },
    /// A signature check's answer.
    Verified {
        tab: usize,
        req: ReqId,
        result: Result<VerifiedJws, JoseError>,
    },
    /// A channel message.
    Message {
        to: usize,
        from: usize,
        message: TabMessage,
    },
}

#[derive(Clone, Debug)]
struct Model {
    tabs: Vec<Machine>,
    /// Each tab's fingerprint, taken whenever it handles an event (the only way a
    /// machine changes): most steps change one tab, or none.
    prints: Vec<u64>,
    signed_in: Vec<bool>,
    /// Waiters not yet answered, per tab.
    waiting: Vec<Vec<u64>>,
    next_waiter: u64,
    provider: Provider,
    net: Vec<Item>,
    now: Now,
    /// What is left to do.
    left: Budget,
    logged_out: bool,
    logout_dropped: bool,
    /// Tabs told to sign out (own logout or a delivered message).
    told: Vec<bool>,
    /// The idle timeout (ms), if the tabs have one.
    idle: Option<u64>,
    /// When (wall ms) the user last did something, in any tab.
    last_move: u64,
    /// Tabs whose silent frame failed (an error page, or `login_required`) since it
    /// last succeeded: only they may fall back on a refresh token whose answer was
    /// lost.
    frame_failed: Vec<bool>,
    /// Tabs told that the user's session at the provider ended (their frame's
    /// `login_required`, another tab's `Lost`, or its mark read on a return from the
    /// back-forward cache): they may leave the session.
    ended: Vec<bool>,
    /// What the tabs share in local storage (`Slot::shared`), by slot.
    store: BTreeMap<String, String>,
    /// Tabs in the back-forward cache: no message reaches them, no timer fires and
    /// the user is elsewhere, until they come back.
    cached: Vec<bool>,
    /// A tab came back from the cache to a logout, or a lost session, that it had
    /// not heard of.
    restored_to_end: bool,
}

const TAB_IDS: [&str; 3] = ["t0", "t1", "t2"];

impl Model {
    /// The state's identity: equal for equal states, secrets included (two states
    /// that differ only in a token are two states). Left out: the counters that
    /// number new codes, families and waiters (they only name what comes next) and
    /// the count of exchanges (a statistic).
    fn fingerprint(&self) -> u64 {
        fn sorted<T: Ord>(items: impl Iterator<Item = T>) -> Vec<T> {
            let mut items: Vec<T> = items.collect();
            items.sort();
            items
        }
        let mut h = DefaultHasher::new();
        self.prints.hash(&mut h);
        let p = &self.provider;
        (
            sorted(p.families.iter()),
            sorted(p.revoked.iter()),
            sorted(p.presented.iter()),
            sorted(p.codes.iter()),
        )
            .hash(&mut h);
        (&self.signed_in, &self.waiting, &self.told, self.last_move).hash(&mut h);
        (&self.frame_failed, &self.ended, p.session_ended).hash(&mut h);
        (sorted(p.replayed.iter()), sorted(p.lost.iter())).hash(&mut h);
        (self.now.mono, self.now.wall).hash(&mut h);
        (&self.left, self.logged_out, self.logout_dropped).hash(&mut h);
        // Storage is read only by a page back from the cache: once none may come
        // back, states that differ only there are one.
        if self.left.caches > 0 || self.cached.contains(&true) {
            (&self.store, &self.cached).hash(&mut h);
        }
        self.restored_to_end.hash(&mut h);
        reveal::with(|| format!("{:?}", self.net)).hash(&mut h);
        h.finish()
    }

    fn handle(&mut self, tab: usize, event: Event) -> Result<(), String> {
        let commands = self.tabs[tab].handle(self.now, event);
        self.prints[tab] = print(&self.tabs[tab]);
        for command in commands {
            match command {
                Command::Fetch { req, request, .. } => {
                    let body = String::from_utf8(request.body).unwrap();
                    if self.told[tab] && body.contains("grant_type=refresh_token") {
                        return Err(format!("tab {tab} refreshes after its logout"));
                    }
                    self.net.push(Item::Request { tab, req, body });
                }
                Command::Broadcast(message) => {
                    // Only the user logs out (in this tab, or in another one that
                    // told it), or the idle timeout, once the user has done nothing
                    // in any tab for that long.
                    if message == TabMessage::Logout && !self.told[tab] {
                        let quiet = self.now.wall.saturating_sub(self.last_move);
                        if self.idle.is_none_or(|idle| quiet < idle) {
                            return Err(format!(
                                "tab {tab} logged out by itself, {quiet} ms after the \
                                 user's last move"
                            ));
                        }
                        self.told[tab] = true;
                    }
                    for to in (0..self.tabs.len()).filter(|t| *t != tab) {
                        self.net.push(Item::Message {
                            to,
                            from: tab,
                            message,
                        });
                    }
                }
                Command::Resolve { waiter, result } => {
                    if self.told[tab] && result.is_ok() {
                        return Err(format!("tab {tab} hands out a token after its logout"));
                    }
                    self.waiting[tab].retain(|w| *w != waiter);
                }
                Command::Publish(state) => {
                    let now_in = matches!(state, AuthState::LoggedIn(_));
                    if self.signed_in[tab] && !now_in && !self.told[tab] && !self.ended[tab] {
                        return Err(format!("tab {tab} left the session unasked: {state:?}"));
                    }
                    self.signed_in[tab] = now_in;
                }
                Command::OpenSilentFrame { req, url, .. } => {
                    self.net.push(Item::Frame { tab, req, url });
                }
                Command::Verify {
                    req,
                    token,
                    keys,
                    policy,
                } => {
                    let result = verify_once(&token, &keys, &policy);
                    self.net.push(Item::Verified { tab, req, result });
                }
                Command::AdoptSilentFrame { .. } => {
                    return Err(format!("tab {tab}: unexpected {command:?}"));
                }
                // As the driver stores (`store_wins`).
                Command::Store { slot, value } if slot.shared() => {
                    let name = format!("{slot:?}");
                    let stored = || self.store.get(&name).cloned();
                    if store_wins(slot, value.as_deref(), stored, self.now.wall) {
                        match value {
                            Some(value) => self.store.insert(name, value),
                            None => self.store.remove(&name),
                        };
                    }
                }
                Command::Navigate { .. }
                | Command::ReplaceUrl(_)
                | Command::Reload
                | Command::Store { .. }
                | Command::Countdown(_)
                | Command::Info(_)
                | Command::CloseSilentFrame
                | Command::ForgoEarlyExchange => {}
            }
        }
        Ok(())
    }

    /// Every state one action away.
    fn successors(&self) -> Vec<Result<Model, String>> {
        let mut out = Vec::new();
        let mut push = |f: &dyn Fn(&mut Model) -> Result<(), String>| {
            let mut next = self.clone();
            out.push(f(&mut next).map(|()| next));
        };
        for i in 0..self.net.len() {
            match self.net[i].clone() {
                Item::Request { tab, req, body } => {
                    // The provider carries the request out; its answer comes back, or
                    // (while losses are left) is lost on the way.
                    for lose in [false, true] {
                        if lose && (self.left.losses == 0 || body.contains("token_type_hint")) {
                            continue;
                        }
                        push(&|m| {
                            m.net.remove(i);
                            let response = m.provider_answer(tab, &body)?;
                            let response = if lose {
                                m.left.losses -= 1;
                                let token = form::parse(&body)
                                    .into_iter()
                                    .find(|(name, _)| name == "refresh_token");
                                if let Some((_, token)) = token {
                                    m.provider.lost.insert(token);
                                }
                                Err("the request timed out".to_owned())
                            } else {
                                Ok(response)
                            };
                            m.net.push(Item::Response { tab, req, response });
                            Ok(())
                        });
                    }
                }
                Item::Response { tab, req, response } => push(&|m| {
                    m.net.remove(i);
                    m.handle(
                        tab,
                        Event::Http {
                            req,
                            result: response.clone(),
                            waited: 0,
                        },
                    )
                }),
                Item::Frame { tab, req, url } => {
                    push(&|m| {
                        m.net.remove(i);
                        m.frame_failed[tab] = m.provider.session_ended;
                        m.ended[tab] |= m.provider.session_ended;
                        let query = m.provider.authorize(&url);
                        m.handle(tab, Event::SilentResult { req, query })
                    });
                    // The user's session at the provider ends (signed out there, or
                    // idled out): this frame, and every one after, `login_required`.
                    if self.left.refusals > 0 && !self.provider.session_ended {
                        push(&|m| {
                            m.net.remove(i);
                            m.left.refusals -= 1;
                            m.provider.session_ended = true;
                            m.frame_failed[tab] = true;
                            m.ended[tab] = true;
                            let query = m.provider.authorize(&url);
                            m.handle(tab, Event::SilentResult { req, query })
                        });
                    }
                    // The frame stops on a page of its own (the browser's error page).
                    if self.left.frame_errors > 0 {
                        push(&|m| {
                            m.net.remove(i);
                            m.left.frame_errors -= 1;
                            m.frame_failed[tab] = true;
                            m.handle(tab, Event::SilentFailed { req })
                        });
                    }
                }
                Item::Verified { tab, req, result } => push(&|m| {
                    m.net.remove(i);
                    m.handle(
                        tab,
                        Event::Verified {
                            req,
                            result: result.clone(),
                        },
                    )
                }),
                // A page in the back-forward cache hears no message: lost.
                Item::Message { to, .. } if self.cached[to] => push(&|m| {
                    m.net.remove(i);
                    Ok(())
                }),
                Item::Message { to, from, message } => {
                    push(&|m| {
                        m.net.remove(i);
                        if message == TabMessage::Logout {
                            m.told[to] = true;
                        }
                        if message == TabMessage::Lost {
                            m.ended[to] = true;
                        }
                        m.handle(
                            to,
                            Event::Tab {
                                from: TAB_IDS[from].into(),
                                message,
                                here: "/".into(),
                            },
                        )
                    });
                    if self.left.drops > 0 {
                        push(&|m| {
                            m.net.remove(i);
                            m.left.drops -= 1;
                            if message == TabMessage::Logout {
                                m.logout_dropped = true;
                            }
                            Ok(())
                        });
                    }
                    if self.left.duplicates > 0 {
                        push(&|m| {
                            m.left.duplicates -= 1;
                            m.net.push(m.net[i].clone());
                            Ok(())
                        });
                    }
                }
            }
        }
        // The user moves when no timer is overdue: a visible tab's timers fire on
        // time, before anything the user does after their deadline (checked with an
        // idle timeout, where it matters).
        let overdue = self.live().any(|t| {
            self.tabs[t]
                .next_deadline()
                .is_some_and(|d| d <= self.now.mono)
        });
        for tab in 0..self.tabs.len() {
            if self.cached[tab] {
                // The user comes back (from the provider's page, say), as any move
                // once the other tabs' due timers have fired: the page reads what
                // they stored, then it is shown.
                if !overdue {
                    push(&|m| m.restore(tab));
                }
                continue;
            }
            // Away, with nothing of its own in flight: pagehide hides it first.
            let busy = self.net.iter().any(|item| match item {
                Item::Request { tab: t, .. }
                | Item::Response { tab: t, .. }
                | Item::Frame { tab: t, .. }
                | Item::Verified { tab: t, .. } => *t == tab,
                Item::Message { .. } => false,
            });
            if self.left.caches > 0 && !busy && self.waiting[tab].is_empty() {
                push(&|m| {
                    m.left.caches -= 1;
                    m.handle(tab, Event::Visibility(false))?;
                    m.cached[tab] = true;
                    Ok(())
                });
            }
            if self.left.wants > 0 {
                push(&|m| {
                    m.left.wants -= 1;
                    m.next_waiter += 1;
                    let w = m.next_waiter;
                    m.waiting[tab].push(w);
                    m.handle(tab, Event::WantToken(w))
                });
            }
            if self.left.moves > 0 && !overdue {
                push(&|m| {
                    m.left.moves -= 1;
                    m.last_move = m.now.wall;
                    m.handle(tab, Event::Activity)
                });
            }
            if self.left.logouts > 0 {
                push(&|m| {
                    m.left.logouts -= 1;
                    m.logged_out = true;
                    m.told[tab] = true;
                    m.handle(
                        tab,
                        Event::Logout(LogoutOptions::default().local_only(true)),
                    )
                });
            }
            if let Some(due) = self.tabs[tab]
                .next_deadline()
                .filter(|d| *d <= self.now.mono)
            {
                push(&|m| {
                    let before = m.prints[tab];
                    m.handle(tab, Event::Timer)?;
                    // A timer that changes nothing and stays due fires again at once,
                    // for good (and this state would count as quiet never again).
                    if m.prints[tab] == before && m.tabs[tab].next_deadline() == Some(due) {
                        return Err(format!("tab {tab}: timer loop at {due}"));
                    }
                    Ok(())
                });
            }
        }
        // Time does not leap while a frame is open; nor, with an idle timeout, while a
        // channel message is on its way or a timer is due (a BroadcastChannel
        // delivers in moments and a visible tab's timers fire on time: held for
        // seconds, either would make any idle logout look premature).
        let frame_open = self.net.iter().any(|item| {
            matches!(item, Item::Frame { .. })
                || (self.idle.is_some() && matches!(item, Item::Message { .. }))
        }) || (self.idle.is_some() && overdue);
        // A cached page's timers are held until it comes back.
        let next = self
            .live()
            .filter_map(|t| self.tabs[t].next_deadline())
            .filter(|d| *d > self.now.mono)
            .min();
        if let Some(next) =
            next.filter(|d| self.left.ticks > 0 && !frame_open && *d <= self.now.mono + 10_000)
        {
            push(&|m| {
                m.left.ticks -= 1;
                let step = next - m.now.mono;
                m.now.mono += step;
                m.now.wall += step;
                Ok(())
            });
        }
        if self.left.steps > 0 && !frame_open {
            // No further than the next deadline: timers fire in their order.
            let step = next.map_or(2_000, |d| (d - self.now.mono).min(2_000));
            push(&|m| {
                m.left.steps -= 1;
                m.now.mono += step;
                m.now.wall += step;
                Ok(())
            });
        }
        if self.left.advances > 0 && !frame_open {
            push(&|m| {
                m.left.advances -= 1;
                m.now.mono += 61_000;
                m.now.wall += 61_000;
                Ok(())
            });
        }
        out
    }

    /// The tabs not in the back-forward cache.
    fn live(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.tabs.len()).filter(|t| !self.cached[*t])
    }

    /// Tab `tab` comes back from the back-forward cache: `PageRestored` with what the
    /// other tabs stored, then `Visibility(true)`. A logout, or a lost session, that
    /// it missed there ends its session now.
    fn restore(&mut self, tab: usize) -> Result<(), String> {
        self.cached[tab] = false;
        let activity = self.store.get(&format!("{:?}", Slot::Activity)).cloned();
        let logged_out = self.store.get(&format!("{:?}", Slot::LoggedOut)).cloned();
        let lost = activity.as_deref() == Some(SESSION_LOST);
        let ends = (logged_out.is_some() && !self.told[tab]) || (lost && !self.ended[tab]);
        self.told[tab] |= logged_out.is_some();
        self.ended[tab] |= lost;
        self.restored_to_end |= ends && self.signed_in[tab];
        self.handle(
            tab,
            Event::PageRestored {
                activity,
                logged_out,
            },
        )?;
        if lost && self.signed_in[tab] {
            return Err(format!(
                "tab {tab} came back to a session lost at the provider, still signed in"
            ));
        }
        self.handle(tab, Event::Visibility(true))
    }

    /// The provider's answer to a request's form `body`: a revocation, a refresh or
    /// a code exchange.
    fn provider_answer(&mut self, tab: usize, body: &str) -> Result<HttpResponse, String> {
        let p: HashMap<String, String> = form::parse(body).into_iter().collect();
        if let Some(token) = p.get("token") {
            // A revocation after a logout (RFC 7009): the family ends.
            let family: u32 = token.split(':').nth(1).unwrap().parse().unwrap();
            self.provider.revoked.insert(family);
            return Ok(HttpResponse {
                status: 200,
                headers: vec![],
                body: vec![],
            });
        }
        if let Some(code) = p.get("code") {
            return Ok(self.provider.exchange(code, self.now));
        }
        let token = p.get("refresh_token").ok_or("not a refresh")?.clone();
        let (response, replay) = self.provider.refresh(&token);
        // Once, by a tab whose frame failed: the last resort, a token whose answer
        // was lost (the provider ends its family, and the session goes on only
        // through a new one).
        let last_resort = self.frame_failed[tab] && self.provider.lost.contains(&token);
        if replay && !(last_resort && self.provider.replayed.insert(token.clone())) {
            return Err(format!("refresh token {token} presented twice"));
        }
        Ok(response)
    }

    /// Properties of every state: a tab told of a logout (its own, or another tab's
    /// message delivered) is signed out from then on.
    fn check(&self) -> Result<(), String> {
        if let Some(tab) = (0..self.tabs.len()).find(|t| self.told[*t] && self.signed_in[*t]) {
            return Err(format!("tab {tab} still signed in after its logout"));
        }
        self.check_quiet()
    }

    /// Properties of a state where nothing is in flight.
    fn check_quiet(&self) -> Result<(), String> {
        if !self.net.is_empty() {
            return Ok(());
        }
        let due = self.live().any(|t| {
            self.tabs[t]
                .next_deadline()
                .is_some_and(|d| d <= self.now.mono)
        });
        if due {
            return Ok(());
        }
        for (tab, waiting) in self.waiting.iter().enumerate() {
            if !waiting.is_empty() {
                return Err(format!(
                    "tab {tab}: token requests never answered: {waiting:?}"
                ));
            }
        }
        // A cached page catches up when it comes back (`restore`).
        if self.logged_out && !self.logout_dropped {
            if let Some(tab) = self.live().find(|t| self.signed_in[*t]) {
                return Err(format!("tab {tab} still signed in after a logout"));
            }
        }
        Ok(())
    }
}

/// A tab's fingerprint.
fn print(machine: &Machine) -> u64 {
    let mut h = DefaultHasher::new();
    machine.fingerprint(&mut h);
    h.finish()
}

/// What the user, the channel and the network may do, at most, in one check.
#[derive(Clone, Debug, Hash)]
struct Budget {
    /// Requests for a token.
    wants: u8,
    logouts: u8,
    /// Leaps of 61 s (past the access token's lifetime).
    advances: u8,
    /// Steps of time to the next deadline (a back-off, a renewal ahead of time).
    ticks: u8,
    /// Channel messages dropped, and repeated.
    drops: u8,
    duplicates: u8,
    /// Token answers lost after the provider carried the request out.
    losses: u8,
    /// The user's moves (activity in a tab), and steps of 2 s between them.
    moves: u8,
    steps: u8,
    /// Frames answered `login_required` (the provider session ends), and frames
    /// that stop on an error page.
    refusals: u8,
    frame_errors: u8,
    /// Visits of a tab to the back-forward cache (it comes back from each).
    caches: u8,
}

impl Budget {
    /// Nothing at all: each check names what it allows.
    const NONE: Budget = Budget {
        wants: 0,
        logouts: 0,
        advances: 0,
        ticks: 0,
        drops: 0,
        duplicates: 0,
        losses: 0,
        moves: 0,
        steps: 0,
        refusals: 0,
        frame_errors: 0,
        caches: 0,
    };
}

/// What a check reached.
struct Explored {
    states: usize,
    /// The most code exchanges (sign-ins through the frame) in one state.
    exchanges: u32,
    /// The most refresh tokens presented in one state.
    presented: usize,
    /// States in which the idle timeout logged the tabs out.
    idle_logouts: usize,
    /// States in which a refresh token of a second generation or later (rotated by a
    /// renewal) had been presented.
    rotated: usize,
    /// States in which a tab was told of a logout while its refresh request was on
    /// its way (its answer comes to a signed-out tab).
    logout_mid_refresh: usize,
    /// States in which a refresh token was presented again as the last resort.
    last_resorts: usize,
    /// States in which a signed-in tab came back from the cache to a logout or a
    /// lost session that it had missed there.
    restored_to_end: usize,
}

/// Explores every state three signed-in tabs reach within `budget`, checking the
/// properties in each.
fn explore(budget: Budget) -> Explored {
    explore_with(3, budget, |c| c, None)
}

/// The same for `n` tabs configured by `tweak`, whose idle timeout is `idle` (ms).
fn explore_with(
    n: usize,
    budget: Budget,
    tweak: fn(OidcConfig) -> OidcConfig,
    idle: Option<u64>,
) -> Explored {
    let idp = Idp::new();
    // Revocation after a logout is checked elsewhere; here it would only multiply the
    // states without touching the property.
    idp.0.borrow_mut().no_revocation = true;
    let mut tabs: Vec<Tab> = Vec::new();
    for id in &TAB_IDS[..n] {
        let mut tab = signed_in_with(&idp, tweak);
        tab.tab_id = (*id).into();
        tabs.push(tab);
    }
    // Each tab signed in on its own (its own token family); restart them with their ids.
    let machines: Vec<Machine> = tabs.iter().map(|t| t.machine.clone()).collect();
    let now = tabs.iter().map(|t| t.now).max_by_key(|n| n.mono).unwrap();
    let mut start = Model {
        tabs: machines,
        prints: vec![],
        signed_in: vec![true; n],
        waiting: vec![vec![]; n],
        next_waiter: 0,
        // Codes and families numbered after the harness provider's.
        provider: Provider {
            next: 1000,
            ..Provider::default()
        },
        net: vec![],
        now,
        left: budget,
        logged_out: false,
        logout_dropped: false,
        told: vec![false; n],
        idle,
        last_move: 0,
        frame_failed: vec![false; n],
        ended: vec![false; n],
        store: BTreeMap::new(),
        cached: vec![false; n],
        restored_to_end: false,
    };
    // The tabs' own ids (their machines were started as "a").
    for (i, id) in TAB_IDS[..n].iter().enumerate() {
        start.tabs[i] = {
            let mut t = tabs[i].reload();
            t.tab_id = (*id).into();
            t.start();
            t.run();
            assert!(t.state().is_logged_in());
            t.machine.clone()
        };
    }

    start.prints = start.tabs.iter().map(print).collect();
    // The user's last move, as far as the tabs know: the earliest of their starts.
    start.last_move = tabs.iter().map(|t| t.now.wall).min().unwrap();

    let began = Instant::now();
    let mut seen: HashSet<u64> = HashSet::new();
    let mut queue: VecDeque<Model> = VecDeque::new();
    seen.insert(start.fingerprint());
    queue.push_back(start);
    let mut explored = Explored {
        states: 0,
        exchanges: 0,
        presented: 0,
        idle_logouts: 0,
        rotated: 0,
        logout_mid_refresh: 0,
        last_resorts: 0,
        restored_to_end: 0,
    };
    while let Some(model) = queue.pop_front() {
        explored.states += 1;
        explored.exchanges = explored.exchanges.max(model.provider.exchanges);
        explored.presented = explored.presented.max(model.provider.presented.len());
        if !model.logged_out && model.told.iter().any(|t| *t) {
            explored.idle_logouts += 1;
        }
        if model.provider.presented.iter().any(|t| !t.ends_with(":1")) {
            explored.rotated += 1;
        }
        if model.net.iter().any(|item| {
            matches!(item, Item::Request { tab, body, .. }
                if model.told[*tab] && body.contains("grant_type=refresh_token"))
        }) {
            explored.logout_mid_refresh += 1;
        }
        if !model.provider.replayed.is_empty() {
            explored.last_resorts += 1;
        }
        if model.restored_to_end {
            explored.restored_to_end += 1;
        }
        let n = explored.states;
        assert!(
            n < 400_000,
            "the state space is larger than the test allows"
        );
        if let Err(e) = model.check() {
            panic!("after {n} states: {e}");
        }
        for next in model.successors() {
            let next = next.unwrap_or_else(|e| panic!("after {n} states: {e}"));
            if seen.insert(next.fingerprint()) {
                queue.push_back(next);
            }
        }
    }
    eprintln!(
        "model check: {} states explored in {:.1} s",
        explored.states,
        began.elapsed().as_secs_f64()
    );
    explored
}

#[test]
fn three_tabs_with_a_lossy_channel_never_spend_a_refresh_token_twice() {
    let explored = explore(Budget {
        wants: 3,
        logouts: 1,
        advances: 1,
        drops: 1,
        duplicates: 1,
        ..Budget::NONE
    });
    // The refresh path was reached: tokens were presented (by several tabs), and a
    // logout came while a refresh was on its way.
    assert!(
        explored.presented > 1,
        "at most {} refresh token presented in {} states",
        explored.presented,
        explored.states
    );
    assert!(
        explored.logout_mid_refresh > 0,
        "no logout during a refresh in {} states",
        explored.states
    );
}

#[test]
fn a_lost_refresh_answer_is_never_spent_again_nor_ends_a_session() {
    let explored = explore(Budget {
        wants: 2,
        logouts: 1,
        advances: 1,
        ticks: 2,
        losses: 1,
        ..Budget::NONE
    });
    // The lost answer's path was reached: a tab renewed through the frame.
    assert!(
        explored.exchanges > 0,
        "no sign-in through the frame in {} states",
        explored.states
    );
}

/// Explores two tabs with an idle timeout of 12 s and a countdown of 1 s, within
/// `budget`, and checks that the idle logout was reached.
fn explore_idle(budget: Budget) -> Explored {
    fn idle(c: OidcConfig) -> OidcConfig {
        c.idle_timeout(std::time::Duration::from_secs(12))
            .auto_logout_warning(std::time::Duration::from_secs(1))
    }
    let explored = explore_with(2, budget, idle, Some(12_000));
    assert!(
        explored.idle_logouts > 0,
        "no idle logout in {} states",
        explored.states
    );
    explored
}

#[test]
fn tabs_with_an_idle_timeout_log_out_only_when_the_user_did_nothing_that_long() {
    // Two tabs, 12 s of idle timeout, 1 s of countdown: activity is shared every 5 s
    // at most. The user moves up to three times, in either tab, with steps of up to
    // 2 s between; time runs on to the idle logout. A move held back (too soon after
    // the last one told) and never told would let the other tab log out early.
    explore_idle(Budget {
        ticks: 8,
        moves: 3,
        steps: 4,
        ..Budget::NONE
    });
}

#[test]
fn two_tabs_renewing_again_and_again_never_spend_a_refresh_token_twice() {
    // Three leaps past the access token's lifetime: a tab renews with the refresh
    // token an earlier renewal rotated, while the other may log out.
    let explored = explore_with(
        2,
        Budget {
            wants: 3,
            logouts: 1,
            advances: 3,
            drops: 1,
            duplicates: 1,
            ..Budget::NONE
        },
        |c| c,
        None,
    );
    assert!(
        explored.rotated > 0,
        "no rotated refresh token presented in {} states",
        explored.states
    );
}

#[test]
fn a_refresh_token_whose_answer_was_lost_is_presented_again_only_as_the_last_resort() {
    // Two tabs; a refresh answer lost after the provider carried it out; the frame
    // the tab then renews through fails (an error page, or `login_required` when the
    // user's session at the provider ends). Only then, and once, may the lost answer's
    // token be presented again; a provider session that ended signs every tab out.
    let explored = explore_with(
        2,
        Budget {
            wants: 2,
            advances: 2,
            ticks: 3,
            losses: 1,
            refusals: 1,
            frame_errors: 1,
            ..Budget::NONE
        },
        |c| c,
        None,
    );
    assert!(
        explored.last_resorts > 0,
        "the last resort was never reached in {} states",
        explored.states
    );
}

#[test]
fn a_tab_back_from_the_cache_follows_the_logout_or_lost_session_it_missed() {
    // Two tabs; one goes into the back-forward cache (no message reaches it there, its
    // timers are held) and comes back, while the other renews, logs out, or loses the
    // session at the provider (a lost refresh answer, then a frame answered
    // `login_required`). Back, it reads what the other tab stored: signed out if the
    // session ended meanwhile, signed in and renewing without a second use of any
    // refresh token otherwise.
    let explored = explore_with(
        2,
        Budget {
            wants: 2,
            logouts: 1,
            advances: 1,
            ticks: 2,
            losses: 1,
            refusals: 1,
            caches: 1,
            ..Budget::NONE
        },
        |c| c,
        None,
    );
    assert!(
        explored.restored_to_end > 0,
        "no tab came back to an ended session in {} states",
        explored.states
    );
}

#[test]
fn a_tab_back_from_the_cache_keeps_the_idle_time_the_other_tab_stored() {
    // The idle timeout's two tabs, one of which goes into the back-forward cache and
    // comes back: it reads the user's last move from storage, where no tab may have
    // put an older one over it (a tab leaving tells its own last move as it goes,
    // perhaps before the other tab's message reached it).
    explore_idle(Budget {
        ticks: 2,
        moves: 3,
        steps: 2,
        caches: 1,
        ..Budget::NONE
    });
}
