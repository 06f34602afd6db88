//! Group commit of delivery outcomes.
//!
//! Every finished attempt must be recorded before its slot is given back, but one write
//! transaction per card made the store's single writer the bottleneck. Attempts hand their outcome
//! to one writer task, which writes everything that arrived while the previous group was being
//! written in a single transaction and answers each attempt when its outcome is stored.

use crate::store::{Completion, Store};
use tokio::sync::{mpsc, oneshot};

/// Most outcomes written in one transaction (keeps a transaction short under a large backlog).
const MAX_GROUP: usize = 256;

type Waiter = oneshot::Sender<Result<(), String>>;

pub struct OutcomeWriter {
    queue: mpsc::UnboundedSender<(Completion, Waiter)>,
}

impl OutcomeWriter {
    /// Start the writer task; it ends once this handle is dropped and the queue is drained.
    pub fn start(store: Store) -> OutcomeWriter {
        let (queue, received) = mpsc::unbounded_channel();
        tokio::spawn(write_groups(store, received));
        OutcomeWriter { queue }
    }

    /// Record `done`; returns once it is stored (or why it could not be).
    pub async fn record(&self, done: Completion) -> Result<(), String> {
        let (answer, answered) = oneshot::channel();
        self.queue
            .send((done, answer))
            .map_err(|_| "the outcome writer has stopped".to_string())?;
        answered
            .await
            .unwrap_or_else(|_| Err("the outcome writer has stopped".into()))
    }
}

async fn write_groups(store: Store, mut received: mpsc::UnboundedReceiver<(Completion, Waiter)>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while received.recv_many(&mut group, MAX_GROUP).await > 0 {
        let (done, waiters): (Vec<Completion>, Vec<Waiter>) = group.drain(..).unzip();
        let result = store
            .call(move |s| s.complete_all(&done))
            .await
            .map_err(|e| format!("{e:#}"));
        for waiter in waiters {
            // The attempt may have been cancelled (shutdown); its outcome is stored regardless.
            let _ = waiter.send(result.clone());
        }
    }
}
