//! A model check of the tabs of one browser: every interleaving (breadth-first, each
//! distinct state once) of three signed-in tabs, a provider that rotates refresh tokens
//! and revokes the family on reuse, a broadcast channel that can drop and duplicate,
//! and the user asking for tokens, logging out and letting time pass.
//!
//! Properties, checked in every state reached:
//! - no refresh token is ever presented twice (so reuse detection never fires);
//! - a tab leaves the signed-in state only through a logout (its own or another tab's);
//! - when nothing is in flight, every request for a token has been answered, and after
//!   a logout whose message was delivered no tab is signed in.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::time::Instant;

use serde_json::json;

use super::harness::{signed_in, Idp, Tab};
use crate::core::{form, HttpResponse};
use crate::session::machine::{Command, Event, Machine, Now, ReqId, TabMessage};
use crate::session::{AuthState, LogoutOptions};

#[derive(Clone, Debug, Default)]
struct Provider {
    /// Current generation of each refresh-token family; revoked families removed.
    families: HashMap<u32, u32>,
    revoked: HashSet<u32>,
    presented: HashSet<String>,
}

impl Provider {
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

#[derive(Clone, Debug)]
enum Item {
    /// A request on its way to the provider.
    Request {
        tab: usize,
        req: ReqId,
        body: String,
    },
    /// Its answer on the way back.
    Response {
        tab: usize,
        req: ReqId,
        response: HttpResponse,
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
    signed_in: Vec<bool>,
    /// Waiters not yet answered, per tab.
    waiting: Vec<Vec<u64>>,
    next_waiter: u64,
    provider: Provider,
    net: Vec<Item>,
    now: Now,
    wants: u8,
    logouts: u8,
    advances: u8,
    drops: u8,
    duplicates: u8,
    logged_out: bool,
    logout_dropped: bool,
    /// Tabs told to sign out (own logout or a delivered message).
    told: Vec<bool>,
}

const TAB_IDS: [&str; 3] = ["t0", "t1", "t2"];

impl Model {
    fn fingerprint(&self) -> u64 {
        let mut h = DefaultHasher::new();
        format!(
            "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}{}{}{}{}{}{}|{:?}",
            self.tabs,
            self.signed_in,
            self.waiting,
            self.provider.families,
            self.net,
            self.now,
            self.wants,
            self.logouts,
            self.advances,
            self.drops,
            self.duplicates,
            self.logged_out,
            self.told
        )
        .hash(&mut h);
        h.finish()
    }

    fn handle(&mut self, tab: usize, event: Event) -> Result<(), String> {
        let commands = self.tabs[tab].handle(self.now, event);
        for command in commands {
            match command {
                Command::Fetch { req, request, .. } => {
                    let body = String::from_utf8(request.body).unwrap();
                    self.net.push(Item::Request { tab, req, body });
                }
                Command::Broadcast(message) => {
                    if message == TabMessage::Logout {
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
                Command::Resolve { waiter, .. } => {
                    self.waiting[tab].retain(|w| *w != waiter);
                }
                Command::Publish(state) => {
                    let now_in = matches!(state, AuthState::LoggedIn(_));
                    if self.signed_in[tab] && !now_in && !self.told[tab] {
                        return Err(format!("tab {tab} left the session unasked: {state:?}"));
                    }
                    self.signed_in[tab] = now_in;
                }
                Command::Verify { .. }
                | Command::OpenSilentFrame { .. }
                | Command::AdoptSilentFrame { .. } => {
                    return Err(format!("tab {tab}: unexpected {command:?}"));
                }
                Command::Navigate { .. }
                | Command::ReplaceUrl(_)
                | Command::Reload
                | Command::Store { .. }
                | Command::Countdown(_)
                | Command::Info(_)
                | Command::CloseSilentFrame => {}
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
                Item::Request { tab, req, body } => push(&|m| {
                    m.net.remove(i);
                    let p: HashMap<String, String> = form::parse(&body).into_iter().collect();
                    if let Some(token) = p.get("token") {
                        // A revocation after a logout (RFC 7009): the family ends.
                        let family: u32 = token.split(':').nth(1).unwrap().parse().unwrap();
                        m.provider.revoked.insert(family);
                        let response = HttpResponse {
                            status: 200,
                            headers: vec![],
                            body: vec![],
                        };
                        m.net.push(Item::Response { tab, req, response });
                        return Ok(());
                    }
                    let token = p.get("refresh_token").ok_or("not a refresh")?.clone();
                    let (response, replay) = m.provider.refresh(&token);
                    if replay {
                        return Err(format!("refresh token {token} presented twice"));
                    }
                    m.net.push(Item::Response { tab, req, response });
                    Ok(())
                }),
                Item::Response { tab, req, response } => push(&|m| {
                    m.net.remove(i);
                    m.handle(
                        tab,
                        Event::Http {
                            req,
                            result: Ok(response.clone()),
                        },
                    )
                }),
                Item::Message { to, from, message } => {
                    push(&|m| {
                        m.net.remove(i);
                        if message == TabMessage::Logout {
                            m.told[to] = true;
                        }
                        m.handle(
                            to,
                            Event::Tab {
                                from: TAB_IDS[from].into(),
                                message,
                            },
                        )
                    });
                    if self.drops > 0 {
                        push(&|m| {
                            m.net.remove(i);
                            m.drops -= 1;
                            if message == TabMessage::Logout {
                                m.logout_dropped = true;
                            }
                            Ok(())
                        });
                    }
                    if self.duplicates > 0 {
                        push(&|m| {
                            m.duplicates -= 1;
                            m.net.push(m.net[i].clone());
                            Ok(())
                        });
                    }
                }
            }
        }
        for tab in 0..self.tabs.len() {
            if self.wants > 0 {
                push(&|m| {
                    m.wants -= 1;
                    m.next_waiter += 1;
                    let w = m.next_waiter;
                    m.waiting[tab].push(w);
                    m.handle(tab, Event::WantToken(w))
                });
            }
            if self.logouts > 0 {
                push(&|m| {
                    m.logouts -= 1;
                    m.logged_out = true;
                    m.told[tab] = true;
                    m.handle(
                        tab,
                        Event::Logout(LogoutOptions::default().local_only(true)),
                    )
                });
            }
            if self.tabs[tab]
                .next_deadline()
                .is_some_and(|d| d <= self.now.mono)
            {
                push(&|m| m.handle(tab, Event::Timer));
            }
        }
        if self.advances > 0 {
            push(&|m| {
                m.advances -= 1;
                m.now.mono += 61_000;
                m.now.wall += 61_000;
                Ok(())
            });
        }
        out
    }

    /// Properties of a state where nothing is in flight.
    fn check_quiet(&self) -> Result<(), String> {
        if !self.net.is_empty() {
            return Ok(());
        }
        let due = self
            .tabs
            .iter()
            .any(|t| t.next_deadline().is_some_and(|d| d <= self.now.mono));
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
        if self.logged_out && !self.logout_dropped {
            if let Some(tab) = self.signed_in.iter().position(|s| *s) {
                return Err(format!("tab {tab} still signed in after a logout"));
            }
        }
        Ok(())
    }
}

#[test]
fn three_tabs_with_a_lossy_channel_never_spend_a_refresh_token_twice() {
    let idp = Idp::new();
    // Revocation after a logout is checked elsewhere; here it would only multiply the
    // states without touching the property.
    idp.0.borrow_mut().no_revocation = true;
    let mut tabs: Vec<Tab> = Vec::new();
    for id in TAB_IDS {
        let mut tab = signed_in(&idp);
        tab.tab_id = id.into();
        tabs.push(tab);
    }
    // Each tab signed in on its own (its own token family); restart them with their ids.
    let machines: Vec<Machine> = tabs.iter().map(|t| t.machine.clone()).collect();
    let now = tabs.iter().map(|t| t.now).max_by_key(|n| n.mono).unwrap();
    let mut start = Model {
        tabs: machines,
        signed_in: vec![true; 3],
        waiting: vec![vec![]; 3],
        next_waiter: 0,
        provider: Provider::default(),
        net: vec![],
        now,
        wants: 3,
        logouts: 1,
        advances: 1,
        drops: 1,
        duplicates: 1,
        logged_out: false,
        logout_dropped: false,
        told: vec![false; 3],
    };
    // The tabs' own ids (their machines were started as "a").
    for (i, id) in TAB_IDS.iter().enumerate() {
        start.tabs[i] = {
            let mut t = tabs[i].reload();
            t.tab_id = (*id).into();
            t.start();
            t.run();
            assert!(t.state().is_logged_in());
            t.machine.clone()
        };
    }

    let began = Instant::now();
    let mut seen: HashSet<u64> = HashSet::new();
    let mut queue: VecDeque<Model> = VecDeque::new();
    seen.insert(start.fingerprint());
    queue.push_back(start);
    let mut explored = 0usize;
    while let Some(model) = queue.pop_front() {
        explored += 1;
        assert!(
            explored < 400_000,
            "the state space is larger than the test allows"
        );
        if let Err(e) = model.check_quiet() {
            panic!("after {explored} states: {e}");
        }
        for next in model.successors() {
            let next = next.unwrap_or_else(|e| panic!("after {explored} states: {e}"));
            if seen.insert(next.fingerprint()) {
                queue.push_back(next);
            }
        }
    }
    // The refresh path was reached: some token was presented.
    eprintln!(
        "model check: {explored} states explored in {:.1} s",
        began.elapsed().as_secs_f64()
    );
    assert!(
        explored > 1000,
        "only {explored} states: the model does not move"
    );
}
