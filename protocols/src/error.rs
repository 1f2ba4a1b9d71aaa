use crate::channel::NetError;
use tessera_tensor::TensorError;
use thiserror::Error;

/// Errors of a party's session and its protocols.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The active mode's integrity check failed: some party deviated from
    /// the protocol (sent a wrong share, opening, commitment or broadcast).
    /// Nothing computed after the last passed check was released.
    #[error("party {party}: integrity check failed ({check}): {detail}; some party deviated from the protocol, so this party stops and releases nothing")]
    CheatingDetected {
        /// The party reporting it.
        party: usize,
        /// Which check failed.
        check: &'static str,
        /// What did not match.
        detail: String,
    },
    /// Communication with a peer failed; the session cannot continue.
    #[error("party {party}: connection to {peer} failed: {error}")]
    Net {
        /// The party reporting the error.
        party: usize,
        /// The peer ("party 2", "the dealer").
        peer: String,
        /// What went wrong on the channel (shown in the message, so not a
        /// separate source: error chains would print it twice).
        error: NetError,
    },
    /// A peer sent bytes that are not what the protocol expects.
    #[error("party {party}: malformed message from {peer}: {detail}")]
    Malformed {
        /// The party reporting the error.
        party: usize,
        /// The peer that sent it.
        peer: String,
        /// What was wrong.
        detail: String,
    },
    /// The dealer's link to a party failed (reported by the dealer).
    #[error("the dealer: connection to party {party} failed: {error}")]
    DealerNet {
        /// The party the dealer lost.
        party: usize,
        /// What went wrong on the channel.
        error: NetError,
    },
    /// A party sent the dealer a request it cannot serve (reported by the dealer).
    #[error("the dealer: malformed request from party {party}: {detail}")]
    DealerMalformed {
        /// The party that sent it.
        party: usize,
        /// What was wrong.
        detail: String,
    },
    /// A ring tensor operation failed (usually mismatched shapes).
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// The preprocessing provider could not supply what was asked.
    #[error("preprocessing: {0}")]
    Preprocessing(String),
    /// A protocol was called with arguments it cannot accept.
    #[error("{op}: {detail}")]
    InvalidArgument {
        /// The protocol.
        op: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// A party thread of the embedded runtime panicked.
    #[error("party {party} crashed: {detail}")]
    Crashed {
        /// The party.
        party: usize,
        /// The panic message.
        detail: String,
    },
}

impl ProtocolError {
    /// True if this error only reports that a peer went away, which usually
    /// follows another party's failure rather than causing it.
    pub fn is_lost_peer(&self) -> bool {
        matches!(
            self,
            ProtocolError::Net {
                error: NetError::Disconnected,
                ..
            } | ProtocolError::DealerNet {
                error: NetError::Disconnected,
                ..
            }
        )
    }
}

/// Result of a protocol step.
pub type Result<T> = std::result::Result<T, ProtocolError>;
