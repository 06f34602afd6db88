//! What the simulator knows: credentials, tokens, sent messages, injected faults.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

/// A failure to inject into the next message request.
#[derive(Clone, Debug)]
pub enum Fault {
    /// An HTTP status with a non-Feishu body (a gateway error).
    Status(u16),
    /// HTTP 429 with Feishu's rate-limit body and `x-ogw-ratelimit-reset`.
    RateLimit { reset_secs: u64 },
    /// A Feishu business error: HTTP status, code, msg.
    Code(u16, i64, String),
    /// Answer normally after this long.
    Delay(Duration),
    /// Record the message, then hold the answer this long: an answer still on its way when the
    /// host stops or dies (only the `uuid` keeps a retry from sending the card twice).
    HoldAnswer(Duration),
}

/// Random trouble on message sends, each a probability from 0 to 1.
#[derive(Clone, Debug, Default)]
pub struct Hostility {
    /// Answer 502 before doing anything.
    pub server_error: f64,
    /// Answer 429 with `x-ogw-ratelimit-reset: 1`.
    pub rate_limit: f64,
    /// Revoke every token, then refuse this one (99991663).
    pub revoke_tokens: f64,
    /// Wait `stall` before handling the request (longer than the host's deadline).
    pub stall: f64,
    pub stall_for: Duration,
    /// Close the connection without a proper answer.
    pub drop_connection: f64,
    /// Record the message, then answer 500: only the uuid prevents a duplicate.
    pub lose_response: f64,
}

/// A message Feishu accepted.
#[derive(Clone, Debug)]
pub struct SentMessage {
    pub message_id: String,
    pub receive_id_type: String,
    pub receive_id: String,
    pub uuid: Option<String>,
    /// The card as it shows now (replaced by each update).
    pub card: serde_json::Value,
    /// How many times it was updated in place (message PATCH).
    pub updates: usize,
}

pub struct SimState {
    pub app_id: String,
    pub app_secret: String,
    /// Seconds a newly issued token lives.
    pub token_lifetime: u64,
    pub tokens: HashMap<String, Instant>,
    /// The token the endpoint hands out while it has 30 minutes or more left.
    pub current_token: Option<String>,
    pub token_fetches: usize,
    /// Every request to the token endpoint, faulted or refused ones too.
    pub token_requests: usize,
    pub connections: usize,
    pub message_requests: usize,
    pub messages: Vec<SentMessage>,
    pub uuids: HashMap<String, (usize, Instant)>,
    pub duplicates_suppressed: usize,
    pub faults: VecDeque<Fault>,
    /// Emails outside the app's availability scope (230013).
    pub unreachable: HashSet<String>,
    /// When false, sending answers 99991672 (scope not granted).
    pub send_scope_granted: bool,
    /// When false, sending answers 230006 (bot not enabled, or no app version published).
    pub bot_enabled: bool,
    /// When false, reading an approval definition answers 99991672.
    pub approval_read_scope_granted: bool,
    /// When false, creating or cancelling an approval instance answers 99991672.
    /// `approval:approval` (or `approval:definition`) for subscribing to a template's events.
    pub subscribe_scope_granted: bool,
    /// Decisions on templates nobody subscribed to (Feishu sends them no callback).
    pub unsubscribed_decisions: usize,
    pub approval_instance_scope_granted: bool,
    /// Approval definitions: code → widgets (the `form` array).
    pub definitions: HashMap<String, serde_json::Value>,
    pub instances: Vec<super::approval::Instance>,
    pub subscriptions: HashSet<String>,
    pub subscribe_calls: usize,
    pub create_calls: usize,
    /// Create the instance but answer 500, as if the answer were lost on the way.
    pub lose_create_answers: usize,
    /// An auto-approved template: each new instance is decided with this status as it is
    /// created, and its callback reaches the host before the create answer does.
    pub decide_on_create: Option<String>,
    /// How callbacks reach the host (None: none are sent).
    pub callback: Option<super::callbacks::CallbackConfig>,
    /// Every callback attempt: (event id, HTTP status; 0 = unreachable).
    pub callback_log: Vec<(String, u16)>,
    /// Drop the next callbacks entirely (lost beyond Feishu's retries).
    pub lose_callbacks: usize,
    /// Deliver every callback twice (Feishu is at-least-once).
    pub duplicate_callbacks: bool,
    /// Recipient ids Feishu refuses, with its code: 99992361 (an open_id of another app),
    /// 99992351 (an open_id that does not exist), 230034 (an invalid receive_id).
    pub refused_ids: HashMap<String, i64>,
    /// Send v2.0 `approval.instance.status_changed_v4` events instead of v1 `approval_instance`.
    pub v2_callbacks: bool,
    /// Answer like Feishu when more than 50 sends arrive in a second or 1,000 in a minute (429,
    /// 99991400), or more than 5 to one person in a second (230020).
    pub enforce_rate_limits: bool,
    /// Arrival time and receive id of every send request.
    pub arrivals: Vec<(Instant, String)>,
    /// Rate-limit answers given.
    pub rate_limited: usize,
    /// Failures to inject into the next message updates (PATCH), in order.
    pub update_faults: VecDeque<Fault>,
    /// Faults answered by the token endpoint, one per token request, before anything else.
    pub token_faults: VecDeque<Fault>,
    /// Every update request (refused ones too): when, and for which message.
    pub update_arrivals: Vec<(Instant, String)>,
    /// Messages recalled by their sender: updating them answers 230011.
    pub recalled: HashSet<String>,
    /// Random trouble (none by default).
    pub hostility: Hostility,
    /// What the hostility did, by kind.
    pub trouble: HashMap<&'static str, usize>,
    /// How long reading an approval instance takes (a slow Feishu).
    pub instance_read_delay: Duration,
    /// Instance reads being answered now, and the most there were at once.
    pub instance_reads_in_flight: usize,
    pub max_instance_reads_in_flight: usize,
    next_id: u64,
}

/// Feishu suppresses a repeated `uuid` for one hour.
pub const UUID_WINDOW: Duration = Duration::from_secs(3600);

impl SimState {
    pub fn new(app_id: &str, app_secret: &str) -> Self {
        SimState {
            app_id: app_id.into(),
            app_secret: app_secret.into(),
            token_lifetime: 7200,
            tokens: HashMap::new(),
            current_token: None,
            token_fetches: 0,
            token_requests: 0,
            connections: 0,
            message_requests: 0,
            messages: Vec::new(),
            uuids: HashMap::new(),
            duplicates_suppressed: 0,
            faults: VecDeque::new(),
            unreachable: HashSet::new(),
            send_scope_granted: true,
            bot_enabled: true,
            approval_read_scope_granted: true,
            subscribe_scope_granted: true,
            unsubscribed_decisions: 0,
            approval_instance_scope_granted: true,
            definitions: HashMap::new(),
            instances: Vec::new(),
            subscriptions: HashSet::new(),
            subscribe_calls: 0,
            create_calls: 0,
            lose_create_answers: 0,
            decide_on_create: None,
            callback: None,
            callback_log: Vec::new(),
            lose_callbacks: 0,
            duplicate_callbacks: false,
            v2_callbacks: false,
            refused_ids: HashMap::new(),
            instance_read_delay: Duration::ZERO,
            instance_reads_in_flight: 0,
            max_instance_reads_in_flight: 0,
            enforce_rate_limits: false,
            arrivals: Vec::new(),
            rate_limited: 0,
            update_faults: VecDeque::new(),
            token_faults: VecDeque::new(),
            update_arrivals: Vec::new(),
            recalled: HashSet::new(),
            hostility: Hostility::default(),
            trouble: HashMap::new(),
            next_id: 0,
        }
    }

    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Feishu's rule: the same token while it has at least 30 minutes left, else a new one.
    pub fn issue_token(&mut self) -> (String, u64) {
        self.token_fetches += 1;
        let now = Instant::now();
        if let Some(current) = &self.current_token
            && let Some(expiry) = self.tokens.get(current)
        {
            let left = expiry.saturating_duration_since(now).as_secs();
            if left >= 1800 {
                return (current.clone(), left);
            }
        }
        let token = format!("t-sim{:08x}{:016x}", self.next_id(), rand::random::<u64>());
        self.tokens.insert(
            token.clone(),
            now + Duration::from_secs(self.token_lifetime),
        );
        self.current_token = Some(token.clone());
        (token, self.token_lifetime)
    }

    pub fn token_valid(&self, token: &str) -> bool {
        self.tokens.get(token).is_some_and(|e| *e > Instant::now())
    }

    pub fn revoke_tokens(&mut self) {
        self.tokens.clear();
        self.current_token = None;
    }

    /// The most sends that arrived within any `window` (overall, and to one receive id).
    pub fn max_in_window(&self, window: Duration) -> (usize, usize) {
        let overall = max_within(self.arrivals.iter().map(|(t, _)| *t).collect(), window);
        let mut by_user: HashMap<&str, Vec<Instant>> = HashMap::new();
        for (t, id) in &self.arrivals {
            by_user.entry(id).or_default().push(*t);
        }
        let per_user = by_user
            .into_values()
            .map(|ts| max_within(ts, window))
            .max()
            .unwrap_or(0);
        (overall, per_user)
    }

    /// The most sends to receive ids matching `which` that arrived within any `window`.
    pub fn max_in_window_of(&self, window: Duration, which: impl Fn(&str) -> bool) -> usize {
        let times = self
            .arrivals
            .iter()
            .filter(|(_, id)| which(id))
            .map(|(t, _)| *t)
            .collect();
        max_within(times, window)
    }

    /// How many messages went to each uuid (for exactly-once assertions).
    pub fn uuid_counts(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for m in &self.messages {
            if let Some(u) = &m.uuid {
                *counts.entry(u.clone()).or_insert(0) += 1;
            }
        }
        counts
    }
}

fn max_within(mut times: Vec<Instant>, window: Duration) -> usize {
    times.sort();
    let (mut best, mut start) = (0, 0);
    for end in 0..times.len() {
        while times[end].duration_since(times[start]) >= window {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}
