//! Preprocessing: correlated randomness consumed by the online protocols.
//!
//! [`Preprocessing`] is the inventory a party draws from; protocols take
//! typed correlations through [`Correlations`] (a Beaver [`Triple`], a
//! [`TruncPair`], ...). Two providers implement it, chosen at run time by
//! [`Provider`]:
//!
//! * [`dealer`]: the trusted dealer ([`DealerClient`] on each party,
//!   [`Dealer`] as its own role), the model CrypTen uses by default; fastest.
//! * [`ot`]: the parties make every correlation themselves by oblivious
//!   transfer over their own links; no one else is trusted.
//!
//! [`Material`] names a request (kind and shapes) and the order of its
//! components; the dealer sends it on the wire, and a dry run (the
//! session's `plan`) lists the items a computation will take so a
//! provider can make them ahead of time.

use crate::error::{ProtocolError, Result};
use tessera_tensor::RingTensor;

pub mod auth;
mod codec;
pub mod dealer;
mod material;
pub mod ot;
mod typed;
pub use dealer::{Dealer, DealerClient, DEALER_TRUST};
pub use material::Material;
pub(crate) use material::{mask_rows, window_rows};
pub use ot::{OtProvider, OT_TRUST};
pub use typed::{
    AndCubes, AndTriples, CompareMaterial, Correlations, EdaBits, OwnedTriple, SelectMaterial,
    SquarePair, Triple, TruncCompareMaterial, TruncPair, WordBits,
};

/// How the shares of a component combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// Additive shares modulo 2^64.
    Arithmetic,
    /// XOR shares of bit-packed words.
    Binary,
    /// Additive shares modulo 2^128, as word pairs `[.., 2]` (low word
    /// first): the authenticated material of the active mode.
    Wide,
}

/// The most words one [`Material::BitTriple`] ANDs with the same word.
pub const MAX_FANOUT: u32 = 8;

/// The most thresholds one [`Material::CompareTables`] compares against.
pub const MAX_THRESHOLDS: u32 = 64;

/// Source of correlated randomness for one party.
///
/// Items must be requested in the same order by every party (SPMD code does
/// this naturally); each returns this party's shares of the components, in the
/// order listed by [`Material`].
pub trait Preprocessing: Send {
    /// Who is trusted for this material, in words for run reports.
    fn model(&self) -> &'static str;
    /// This party's shares of one item.
    fn take(&mut self, item: &Material) -> Result<Vec<RingTensor>>;
    /// Marks the start of a repeated unit of work (a training step): a
    /// provider may prepare the next units' material ahead of time, assuming
    /// they ask for what the last one did, on the data rows in `next_rows`
    /// (this step's, then the following ones', as far as known).
    fn step_boundary(&mut self, next_rows: &[&[usize]]) -> Result<()> {
        let _ = next_rows;
        Ok(())
    }
    /// Announces the items about to be taken, in order (found by a dry run
    /// of the same computation, the session's `plan`): a provider may
    /// make them all ahead of time.
    fn plan(&mut self, items: &[Material]) -> Result<()> {
        let _ = items;
        Ok(())
    }
    /// Makes every item announced so far (by [`Preprocessing::plan`]) now:
    /// party 0 waits for the dealer's parts, every party expands its own
    /// shares. An offline phase, after which the planned computation neither
    /// waits for the provider nor spends time on its material.
    fn make_ahead(&mut self) -> Result<()> {
        Ok(())
    }
    /// Whether comparisons take their material as lookup tables
    /// ([`Material::CompareTables`]: 4 rounds) rather than as edaBits for a
    /// tree of AND gates ([`Material::EdaSelect`]: 8 rounds). A dealer
    /// computes tables in the clear; made by OT, each element's would cost
    /// about 290 AND gates and 3 times the tree's traffic, so the parties'
    /// own provider declines.
    fn deals_tables(&self) -> bool {
        false
    }
    /// Whether [`Preprocessing::owned_triple`] is available. A dealer would
    /// have to see the owner's data to make one, so it declines.
    fn owned_products(&self) -> bool {
        false
    }
    /// Material for a product `L Y` where party `owner` holds `L [m, k]` in
    /// the clear (its own training data) and `Y [k, n]` is secret: every other
    /// party `j` gets its own random `B_j [k, n]`, and all get shares of
    /// `sum_j L B_j`. Only the owner's cross terms are made, instead of every
    /// pair's for a matrix triple. `left` is `Some` on the owner only.
    fn owned_triple(
        &mut self,
        owner: usize,
        left: Option<&RingTensor>,
        dims: [usize; 3],
    ) -> Result<OwnedTriple> {
        let _ = (owner, left, dims);
        Err(ProtocolError::Preprocessing(
            "this provider cannot make products with a party's own data".into(),
        ))
    }
    /// This party's share of the MAC key of the actively secure mode
    /// ([`auth`]). A provider that cannot make authenticated material says so.
    fn mac_key_share(&self) -> Result<auth::MacKeys> {
        Err(ProtocolError::Preprocessing(
            "this provider cannot make authenticated material (active security needs the dealer)"
                .into(),
        ))
    }
    /// Bytes received from the provider so far.
    fn bytes_received(&self) -> u64;
    /// Bytes this party sent for preprocessing so far (to other parties or
    /// a dealer).
    fn bytes_sent(&self) -> u64 {
        0
    }
    /// Seconds this party spent waiting for the provider so far.
    fn wait_seconds(&self) -> f64 {
        0.0
    }
    /// Signals that no more material will be requested.
    fn finish(&mut self) -> Result<()>;
}

/// Where a job's correlated randomness comes from, chosen at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// A trusted dealer (a separate process or thread): fastest, but it must
    /// collude with no computing party.
    #[default]
    Dealer,
    /// The parties themselves, by oblivious transfer: no one else is trusted.
    Ot,
}

impl Provider {
    /// The name used on the command line and in job files.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Dealer => "dealer",
            Provider::Ot => "ot",
        }
    }

    /// Who is trusted, in words for run reports.
    pub fn trust(self) -> &'static str {
        match self {
            Provider::Dealer => DEALER_TRUST,
            Provider::Ot => OT_TRUST,
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Provider {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "dealer" => Ok(Provider::Dealer),
            "ot" => Ok(Provider::Ot),
            other => Err(format!(
                "unknown preprocessing '{other}': use 'dealer' (a trusted dealer) or 'ot' (no dealer)"
            )),
        }
    }
}
